"""Hidden checks, week 7: train_ddpm, judged by trusted code.

The data is drawn here, at check time: the ring of 8 Gaussians (radius 2, sigma 0.1) rotated by an angle that only
this file knows, so parameters fitted beforehand to the notebook's ring are useless. The verdict is computed from the
returned parameters alone: this file's own network (oracle.Net: nn.Sequential in float64) and its own ancestral
sampler (oracle.sample, its own generator) draw 2,000 points, and oracle.mode_stats measures the fraction within
3 sigma of a centre and each mode's share. The guidance check asks the conditional network for every mode in turn,
with the check's own guided sampler.
"""

import functools
import importlib.util
from pathlib import Path

import pytest
import torch

from autograder.i18n import _

_spec = importlib.util.spec_from_file_location("week07_oracle", Path(__file__).with_name("oracle.py"))
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)

ANGLE = 0.4137          # the check's rotation of the ring (the notebook's is 0)
SCHEDULE = (100, 1e-3, 0.2)
TRAIN_ARGS = {"steps": 2000, "batch_size": 512, "lr": 3e-3, "seed": 11}
N_SAMPLES = 2000
MIN_IN_MODE = 0.7       # measurements in test_train_ddpm_covers_the_modes
MIN_SHARE = 0.04        # every mode holds at least this share of all samples (a fair share is 0.125)
GUIDANCE_W = 3.0
MIN_HIT = 0.7           # measurements in test_guidance_draws_the_requested_mode (chance: 1/8)


@functools.cache
def ring_data() -> tuple[torch.Tensor, torch.Tensor]:
    return oracle.ring(5000, torch.Generator().manual_seed(7070), ANGLE)


def trained_params(value, num_classes: int = 0) -> dict:
    """train_ddpm's parameters as float64 CPU tensors, after checking their format."""
    in_dim = 2 + oracle.EMB_DIM + (num_classes + 1 if num_classes else 0)
    shapes = {"net.0.weight": (128, in_dim), "net.0.bias": (128,), "net.2.weight": (128, 128), "net.2.bias": (128,),
              "net.4.weight": (128, 128), "net.4.bias": (128,), "net.6.weight": (2, 128), "net.6.bias": (2,)}
    assert isinstance(value, dict) and set(value) == set(shapes), \
        _("train_ddpm should return a dict with exactly the keys of init_eps_net's result")
    for key, shape in shapes.items():
        tensor = value[key]
        assert type(tensor) is torch.Tensor and tuple(tensor.shape) == shape and tensor.is_floating_point(), \
            _("params {key} should be a float tensor of the shape init_eps_net gives it (num_classes = {num_classes})",
              key=key, num_classes=num_classes)
        assert not tensor.requires_grad, _("return the trained parameters detached")
        assert bool(torch.isfinite(tensor).all()), _("the trained parameters contain inf or nan")
    return {key: value[key].detach().cpu().to(torch.float64) for key in shapes}


@pytest.mark.points(4)
def test_train_ddpm_covers_the_modes(submission):
    """The trained network, sampled by the grader's own reverse process, puts its samples on all 8 modes of the ring.

    Verdict: 2,000 samples from oracle.sample (float64, the check's generator, all 100 steps) of the returned
    parameters: at least MIN_IN_MODE of them within 3 sigma of a centre, and every one of the 8 centres holding at
    least MIN_SHARE of all samples (a fair share is 0.125). Measured with measure_training.py (this folder) on the
    reference, one thread, 2-core VM under load, 8.0-11.6 s of CPU per 2,000-step run:
      reference, seeds 0-5 (the check uses seed 11):  in-mode 0.903 0.876 0.942 0.888 0.891 0.918 (min 0.876);
                                                      smallest mode share 0.095 0.087 0.099 0.083 0.091 0.070
      reference after 10 / 100 / 500 steps:           in-mode 0.019 / 0.069 / 0.323, smallest share 0.000 / 0.006 /
                                                      0.029, modes with >= MIN_SHARE: 0 / 0 / 4 (all fail)
      trained on the notebook's ring (angle 0):       in-mode 0.034 (pasted parameters are useless)
      known-wrong q-sample-variance-as-std (seed 11): in-mode 0.609, smallest share 0.061 (fails); the other known-wrong
      training that differs, q-sample-alpha-not-alphabar: in-mode 0.992, smallest share 0.053 (passes: test_q_sample_*
      and test_eps_loss catch it)
    MIN_IN_MODE = 0.7 sits 0.18 below the worst reference run, 0.09 above q-sample-variance-as-std and 0.38 above the
    500-step model; MIN_SHARE = 0.04 sits 0.03 below the worst reference share and above the 500-step model's.
    """
    data, _labels = ring_data()
    params = trained_params(submission.train_ddpm(data, oracle.schedule(*SCHEDULE), **TRAIN_ARGS))
    samples = oracle.sample(oracle.Net(params), N_SAMPLES, torch.Generator().manual_seed(7071),
                            oracle.schedule(*SCHEDULE))
    in_mode, shares = oracle.mode_stats(samples, oracle.centres_of(ANGLE))
    assert in_mode >= MIN_IN_MODE, \
        _("too few samples of the trained network land on the modes of the ring (the check samples with a correct " \
        "reverse process, so make the p_sample_loop checks pass first): train with eps_loss for all the steps")
    assert float(shares.min()) >= MIN_SHARE, \
        _("the samples of the trained network miss some modes of the ring or leave them nearly empty")


SMALL = {"steps": 12, "batch_size": 32, "lr": 1e-3, "seed": 5}
VARIED = {"lr": 3e-3, "steps": 14, "batch_size": 48, "seed": 6}


@pytest.mark.points(1)
def test_train_ddpm_follows_its_arguments(submission):
    """train_ddpm is reproducible from its seed, and lr, steps, batch_size, seed and p_uncond all matter."""
    data, labels = ring_data()
    data, labels = data[:600], labels[:600]
    sched = oracle.schedule(50, 0.002, 0.3)
    base = trained_params(submission.train_ddpm(data, sched, **SMALL))
    again = trained_params(submission.train_ddpm(data, sched, **SMALL))
    assert all(torch.equal(base[k], again[k]) for k in base), \
        _("the same arguments should give exactly the same parameters: draw everything from one generator seeded " \
        "with seed")
    for key, value in VARIED.items():
        other = trained_params(submission.train_ddpm(data, sched, **{**SMALL, key: value}))
        assert not all(torch.equal(base[k], other[k]) for k in base), \
            _("changing {key} alone gave exactly the same parameters: train_ddpm should use its {key} argument",
              key=key)
    cond = {**SMALL, "labels": labels, "num_classes": 8}
    first = trained_params(submission.train_ddpm(data, sched, **cond), 8)
    first_again = trained_params(submission.train_ddpm(data, sched, **cond), 8)
    assert all(torch.equal(first[k], first_again[k]) for k in first), \
        _("with labels, the same arguments should give exactly the same parameters: draw the dropout mask from the "
          "generator seeded with seed too")
    other = trained_params(submission.train_ddpm(data, sched, **cond, p_uncond=0.6), 8)
    assert not all(torch.equal(first[k], other[k]) for k in first), \
        _("changing p_uncond alone gave exactly the same parameters: drop labels with probability p_uncond")


@pytest.mark.points(2)
def test_guidance_draws_the_requested_mode(submission):
    """A conditional network trained with label dropout, guided at w = 3, draws the requested mode far above chance.

    Verdict: train_ddpm with the ring's labels (num_classes = 8, p_uncond = 0.2); the check's own guided sampler
    (oracle.sample with y, w = GUIDANCE_W) asks for every mode 100 times; at least MIN_HIT of the 800 samples must lie
    within 3 sigma of the requested centre (chance: 1/8 of the in-mode fraction). Measured on the reference with
    measure_training.py (8.7-10.0 s of CPU per conditional run), rate in the requested mode:
      reference, seeds 0-5:  w = 0: 0.041 0.041 0.033 0.045 0.037 0.049 (the unconditional branch: chance level)
                             w = 1: 0.990 0.994 0.988 0.974 0.985 0.986
                             w = 3: 0.975 0.875 0.998 0.833 0.999 0.989 (min 0.833)
      reference after 10 / 100 steps: 0.007 / 0.000 at w = 3 (fail); after 500 steps already 1.000: this check is
      about conditioning, test_train_ddpm_covers_the_modes about the quality of training.
      known-wrong, seed 11, w = 3: q-sample-variance-as-std 0.595 (fails), q-sample-alpha-not-alphabar 0.985
      (passes), train-handful-of-steps 0.007 (fails)
    MIN_HIT = 0.7 is between five and six times chance (1/8), 0.13 below the worst reference run and 0.1 above
    q-sample-variance-as-std.
    """
    data, labels = ring_data()
    sched = oracle.schedule(*SCHEDULE)
    params = trained_params(submission.train_ddpm(data, sched, **TRAIN_ARGS, labels=labels, num_classes=8,
                                                  p_uncond=0.2), 8)
    want = torch.arange(8).repeat_interleave(100)
    samples = oracle.sample(oracle.Net(params), len(want), torch.Generator().manual_seed(7072), sched, want,
                            GUIDANCE_W)
    hit = ((samples - oracle.centres_of(ANGLE)[want]).norm(dim=1) < 0.3).double().mean().item()
    assert hit >= MIN_HIT, \
        _("guided samples of the trained conditional network do not land in the requested mode often enough: " \
        "train with the labels, replaced by the 'no label' index num_classes with probability p_uncond")


TRAIN_DEFAULTS = {"steps": 2000, "batch_size": 512, "lr": 3e-3, "seed": 0, "p_uncond": 0.2}
CHEAP = {"steps": 3, "batch_size": 8, "lr": 1e-2, "seed": 4, "p_uncond": 0.5}   # values other than the defaults


@pytest.mark.points(1)
def test_train_ddpm_documented_defaults(submission):
    """train_ddpm uses its documented defaults: steps=2000, batch_size=512, lr=3e-3, seed=0, p_uncond=0.2.

    Each parameter is left out in turn, the others given cheap values (CHEAP), and the parameters must equal exactly
    those of the same call with the documented value written out; a conditional network, so that p_uncond counts.
    Leaving steps out trains 2,000 steps of batch 8 (twice: about 3 s of CPU); all defaults at once would be the
    full 2,000 x 512 training, so each default is checked on its own instead."""
    data, labels = ring_data()
    data, labels = data[:300], labels[:300]
    sched = oracle.schedule(20, 0.01, 0.3)
    cond = {"labels": labels, "num_classes": 8}
    for name, default in TRAIN_DEFAULTS.items():
        others = {key: value for key, value in CHEAP.items() if key != name}
        implicit = trained_params(submission.train_ddpm(data, sched, **others, **cond), 8)
        explicit = trained_params(submission.train_ddpm(data, sched, **others, **{name: default}, **cond), 8)
        assert all(torch.equal(implicit[k], explicit[k]) for k in explicit), \
            _("train_ddpm without {name} should train exactly as with {name} = {default}, its documented default: "
              "keep the defaults of the signature you were given", name=name, default=default)


@pytest.mark.points(1)
def test_train_ddpm_float64_data(submission):
    """train_ddpm trains in float32 whatever float dtype the data has: float64 data gives the same parameters."""
    data, labels = ring_data()
    data = data[:300]
    sched = oracle.schedule(20, 0.01, 0.3)
    single = trained_params(submission.train_ddpm(data, sched, **SMALL))
    double = trained_params(submission.train_ddpm(data.double(), sched, **SMALL))
    assert all(torch.equal(single[k], double[k]) for k in single), \
        _("train_ddpm on float64 data should return exactly the parameters it returns on the same points in "
          "float32: convert the data to float32 first, as the network's parameters are")


LOOP_RUNS = ({"steps": 6, "batch_size": 64, "lr": 1e-2, "seed": 13},
             {"steps": 6, "batch_size": 64, "lr": 1e-2, "seed": 14, "num_classes": 8, "p_uncond": 0.3})
EDGE_RUN = {"steps": 1, "batch_size": 4, "lr": 1e-2, "seed": 15, "num_classes": 8}   # p_uncond: a drawn value
MAX_LOOP_DEVIATION = 1e-4   # measurements in test_train_ddpm_follows_the_documented_loop


def _movement_deviation(got: dict, want: dict, init: dict) -> float:
    """|got - want| / |want - init| over all parameters: how far the returned parameters are from the documented
    loop's, relative to how far that loop moved them."""
    num = sum(float(((got[k] - want[k].double()) ** 2).sum()) for k in want)
    den = sum(float(((want[k].double() - init[k].double()) ** 2).sum()) for k in want)
    return (num / den) ** 0.5


@pytest.mark.points(1)
def test_train_ddpm_follows_the_documented_loop(submission):
    """A few steps of train_ddpm give the parameters of the documented loop: init, draws in order, loss, Adam.

    oracle.train_loop runs the loop the notebook documents (init_eps_net's draws, then per step rows, t, eps and the
    dropout mask from one generator seeded with seed; the simplified loss; Adam at lr, gradients zeroed every step)
    with PyTorch's F.linear and torch.optim.Adam, unconditional and conditional, 6 steps of batch 64 at lr 1e-2, and
    one conditional step of batch 4 whose p_uncond equals the first row's dropout draw (that row keeps its label
    under the documented `u < p_uncond`; `<=` drops it: deviation 0.33-0.57 over seeds 15-19).
    Verdict: the returned parameters' distance from the loop's, over the distance the loop moved them, is below
    MAX_LOOP_DEVIATION. Measured (measure in /tmp, 3 seeds): the reference 0.0 (bit-identical); correct variants
    0.0 (F.mse_loss times 2; Adam without foreach) and at most 1.4e-6 (q_sample computed in float64 and cast);
    gradients never zeroed 0.43-0.51, rows drawn from 1..N-1 0.31-0.38, t drawn from 1..T-1 0.52-0.61, one noise
    vector shared by the batch 1.1-1.2; the mildest, eps_loss averaged over the coordinates too (half the loss, which
    Adam nearly undoes), 1.6e-3 and 1.8e-3 (the two main runs, known-wrong eps-loss-mean-over-coordinates). 1e-4 sits
    70 times above the correct variants and 16 times below the mildest mistake."""
    data, labels = ring_data()
    data, labels = data[:600], labels[:600]
    sched = oracle.schedule(50, 0.002, 0.3)
    edge = {**EDGE_RUN, "p_uncond": float(oracle.first_drop_draws(EDGE_RUN["seed"], EDGE_RUN["num_classes"],
                                                                   len(data), 50, EDGE_RUN["batch_size"])[0])}
    for run in (*LOOP_RUNS, edge):
        num_classes = run.get("num_classes", 0)
        extra = {"labels": labels} if num_classes else {}
        got = trained_params(submission.train_ddpm(data, sched, **run, **extra), num_classes)
        want = oracle.train_loop(data, sched, **run, **extra)
        init = oracle.train_loop(data, sched, **{**run, "steps": 0}, **extra)
        assert _movement_deviation(got, want, init) < MAX_LOOP_DEVIATION, \
            _("a few steps of train_ddpm do not give the parameters of the documented loop: initialise with "
              "init_eps_net(generator, num_classes); per step draw rows, t, eps (then drop, with labels) in that "
              "order from the one generator; minimise eps_loss with Adam at lr, zeroing the gradients every step") \
            if not num_classes else \
            _("with labels, a few steps of train_ddpm do not give the parameters of the documented loop: draw drop "
              "= torch.rand(batch_size) < p_uncond after eps, and replace the dropped labels by num_classes") \
            if run is not edge else \
            _("with p_uncond equal to one of the generator's draws, that row should keep its label: drop where "
              "torch.rand(batch_size) < p_uncond, strictly")
