"""Hidden checks, week 7: the loss, classifier-free guidance and the reverse process on networks chosen here.

The network is this folder's oracle (PyTorch's nn.Sequential of nn.Linear and nn.SiLU in float64) loaded with
random parameters drawn here; the sampler is replayed with the check's own torch.Generator under the notebook's
stream contract (x_T first, then one float64 draw per step with i > 0, none at i = 0).
"""

import importlib.util
from pathlib import Path

import pytest
import torch

from autograder.i18n import _

_spec = importlib.util.spec_from_file_location("week07_oracle", Path(__file__).with_name("oracle.py"))
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)
DEVICES = oracle.DEVICES


def _send(params: dict, device: str) -> dict:
    return {key: value.to(device, oracle.dtype_for(device), copy=True) for key, value in params.items()}


def _generator(submission, seed: int):
    g = submission.make_object("torch.Generator")
    g.manual_seed(seed)
    return g


@pytest.mark.points(1)
@pytest.mark.parametrize("device", DEVICES)
def test_eps_loss(submission, device):
    """eps_loss is the batch mean of ||eps - eps_net(q_sample(x0, t, eps), t, y)||^2, conditional or not."""
    g = torch.Generator().manual_seed(711)
    sched = oracle.schedule(80, 0.002, 0.22)
    dtype = oracle.dtype_for(device)
    for num_classes in (0, 5):
        params = oracle.random_params(g, num_classes)
        net = oracle.Net(params)
        x0 = torch.randn(24, 2, generator=g, dtype=torch.float64) * 2
        eps = torch.randn(24, 2, generator=g, dtype=torch.float64)
        t = torch.cat([torch.tensor([0, 79]), torch.randint(0, 80, (22,), generator=g)])
        y = torch.randint(0, num_classes + 1, (24,), generator=g) if num_classes else None
        expected = ((eps - net(oracle.q_sample(x0, t, eps, sched), t, y)) ** 2).sum(dim=1).mean()
        loss = submission.eps_loss(_send(params, device), x0.to(device, dtype), t.to(device), eps.to(device, dtype),
                                   sched, None if y is None else y.to(device))
        assert type(loss) is torch.Tensor and loss.dim() == 0, _("eps_loss should return a 0-dimensional tensor")
        assert oracle.close(loss, expected, device), \
            _("eps_loss differs from the mean over the batch of the squared error summed over the coordinates")


@pytest.mark.points(1)
@pytest.mark.parametrize("device", DEVICES)
def test_guided_eps(submission, device):
    """guided_eps is eps_u + w (eps_c - eps_u): unconditional at w = 0, conditional at w = 1, extrapolated beyond."""
    g = torch.Generator().manual_seed(712)
    dtype = oracle.dtype_for(device)
    params = oracle.random_params(g, 6)
    net = oracle.Net(params)
    x = torch.randn(20, 2, generator=g, dtype=torch.float64)
    t = torch.randint(0, 100, (20,), generator=g)
    y = torch.randint(0, 6, (20,), generator=g)
    sent = _send(params, device)
    for w in (0.0, 1.0, 3.0, 7.5, -0.5):
        out = submission.guided_eps(sent, x.to(device, dtype), t.to(device), y.to(device), w)
        assert oracle.close(out, net.guided(x, t, y, w), device), \
            _("guided_eps at w = {w} differs from eps_uncond + w * (eps_cond - eps_uncond)", w=w)


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_p_sample_loop_follows_the_contract(submission, device):
    """p_sample_loop: T ancestral steps with the posterior variance, no noise at the last step, the exact stream."""
    g = torch.Generator().manual_seed(713)
    for T, beta_1, beta_T, n, seed in ((12, 0.01, 0.3, 7, 5), (1, 0.05, 0.05, 5, 6), (30, 0.002, 0.25, 33, 7)):
        sched = oracle.schedule(T, beta_1, beta_T)
        params = oracle.random_params(g)
        expected = oracle.sample(oracle.Net(params), n, torch.Generator().manual_seed(seed), sched)
        call = submission.watch("p_sample_loop")(_send(params, device), n, _generator(submission, seed), sched)
        if call.mutated_args[3]:   # float64 CPU parameters: schedule[key].to(device, dtype) is the caller's tensor
            raise AssertionError(_("p_sample_loop changed the schedule it was given in place (an in-place operation "
                                   "such as sqrt_ on alphas[i]); use the out-of-place form, alphas[i].sqrt()"))
        out = call.value
        assert oracle.close(out, expected, device, rtol=1e-8, atol=1e-10), \
            _("with T = {T} steps and n = {n}, p_sample_loop's samples differ from the contract's ancestral sampler "
              "(x_T first; mean from the predicted noise; variance beta~; one draw per step with i > 0 and none at i "
              "= 0)", T=T, n=n)


@pytest.mark.points(1)
@pytest.mark.parametrize("device", DEVICES)
def test_p_sample_loop_with_guidance(submission, device):
    """p_sample_loop with labels y and a guidance weight w uses the guided noise prediction at every step.

    y is sent as a CPU tensor whatever the device of the parameters (the docstring puts no device on it; on a GPU
    p_sample_loop moves it)."""
    g = torch.Generator().manual_seed(714)
    sched = oracle.schedule(15, 0.01, 0.3)
    params = oracle.random_params(g, 4)
    y = torch.randint(0, 4, (9,), generator=g)
    for w, seed in ((2.5, 8), (0.0, 9)):
        expected = oracle.sample(oracle.Net(params), 9, torch.Generator().manual_seed(seed), sched, y, w)
        out = submission.p_sample_loop(_send(params, device), 9, _generator(submission, seed), sched, y, w)
        assert oracle.close(out, expected, device, rtol=1e-8, atol=1e-10), \
            _("with labels and w = {w}, p_sample_loop's samples differ from the contract's guided sampler", w=w)


@pytest.mark.points(1)
def test_p_sample_loop_default_guidance_weight(submission):
    """p_sample_loop with labels y and no w samples exactly as with the documented default w = 1.0."""
    g = torch.Generator().manual_seed(715)
    sched = oracle.schedule(10, 0.01, 0.3)
    params = _send(oracle.random_params(g, 3), "cpu")
    y = torch.randint(0, 3, (6,), generator=g)
    documented = submission.p_sample_loop(params, 6, _generator(submission, 10), sched, y, 1.0)
    default = submission.p_sample_loop(params, 6, _generator(submission, 10), sched, y)
    assert type(documented) is torch.Tensor and type(default) is torch.Tensor and torch.equal(default, documented), \
        _("p_sample_loop(params, n, generator, schedule, y) should sample exactly as with w = 1.0: keep the "
          "defaults of the signature you were given")


@pytest.mark.points(1)
def test_p_sample_loop_float32_parameters(submission):
    """p_sample_loop with float32 parameters on the CPU samples in float32: x_T and every z are moved to it."""
    g = torch.Generator().manual_seed(716)
    sched = oracle.schedule(8, 0.01, 0.3)
    params = {key: value.float() for key, value in oracle.random_params(g).items()}
    out = submission.p_sample_loop(params, 5, _generator(submission, 11), sched)
    assert type(out) is torch.Tensor and tuple(out.shape) == (5, 2) and out.dtype == torch.float32 \
        and bool(torch.isfinite(out).all()), \
        _("with float32 parameters p_sample_loop should return float32 samples of shape (n, 2): draw in float64 "
          "as the contract says, then move each draw to the parameters' device and dtype")
