"""Measure the thresholds of test_training.py (run by hand; not a check, never sent to the sandbox).

Trains the reference solution's train_ddpm (solutions/week07-diffusion/diffusion.ipynb, run in this process: it is
trusted code) on the check's rotated ring over several seeds, and prints what the checks compute: the in-mode
fraction and the smallest mode share of 2,000 samples from the check's own sampler, and the rate at which guided
samples land in the requested mode; then the same for short training and for the known-wrong notebooks whose
training differs. Usage, from the repository root:

    OMP_NUM_THREADS=1 .venv/bin/python tests/hidden/week07-diffusion/measure_training.py [seed ...]
"""

import sys
import time
from pathlib import Path

import torch

from autograder.measuring import load_check, notebook_namespace

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SOLUTIONS = ROOT / "solutions/week07-diffusion"
# known-wrong notebooks whose train_ddpm differs from the reference's (solutions/<id>/wrong/<name>.ipynb)
WRONG_TRAINING = ["q-sample-alpha-not-alphabar", "q-sample-variance-as-std", "train-handful-of-steps",
                  "train-labels-never-dropped", "eps-loss-mean-over-coordinates"]


def main(seeds: list[int]) -> None:
    torch.set_num_threads(1)
    check = load_check(HERE / "test_training.py")
    oracle = check.oracle
    data, labels = check.ring_data()
    sched = oracle.schedule(*check.SCHEDULE)
    centres = oracle.centres_of(check.ANGLE)

    def coverage(namespace, **overrides):
        start = time.process_time()
        params = check.trained_params(namespace["train_ddpm"](data, sched, **{**check.TRAIN_ARGS, **overrides}))
        cpu = time.process_time() - start
        samples = oracle.sample(oracle.Net(params), check.N_SAMPLES, torch.Generator().manual_seed(7071), sched)
        in_mode, shares = oracle.mode_stats(samples, centres)
        return in_mode, float(shares.min()), int((shares >= check.MIN_SHARE).sum()), cpu

    def guidance(namespace, **overrides):
        start = time.process_time()
        args = {**check.TRAIN_ARGS, "labels": labels, "num_classes": 8, "p_uncond": 0.2, **overrides}
        params = check.trained_params(namespace["train_ddpm"](data, sched, **args), 8)
        cpu = time.process_time() - start
        want = torch.arange(8).repeat_interleave(100)
        rates = {}
        for w in (0.0, 1.0, check.GUIDANCE_W):
            samples = oracle.sample(oracle.Net(params), len(want), torch.Generator().manual_seed(7072), sched, want, w)
            rates[w] = ((samples - centres[want]).norm(dim=1) < 0.3).double().mean().item()
        return rates, cpu

    def show_coverage(label, result):
        in_mode, min_share, modes, cpu = result
        print(f"{label:<52} in-mode {in_mode:.3f}  min share {min_share:.3f}  modes {modes}  ({cpu:4.1f} s CPU)",
              flush=True)

    def show_guidance(label, result):
        rates, cpu = result
        text = "  ".join(f"w={w:g}: {r:.3f}" for w, r in rates.items())
        print(f"{label:<52} hit {text}  ({cpu:4.1f} s CPU)", flush=True)

    print(f"thresholds: in-mode >= {check.MIN_IN_MODE}, every mode share >= {check.MIN_SHARE}, "
          f"guided hit (w = {check.GUIDANCE_W}) >= {check.MIN_HIT}; args {check.TRAIN_ARGS}")
    ref = notebook_namespace(SOLUTIONS / "diffusion.ipynb")
    for seed in seeds:
        show_coverage(f"reference, seed {seed}", coverage(ref, seed=seed))
    for seed in seeds:
        show_guidance(f"reference conditional, seed {seed}", guidance(ref, seed=seed))
    for steps in (10, 100, 500):
        show_coverage(f"reference, {steps} steps", coverage(ref, steps=steps))
        show_guidance(f"reference conditional, {steps} steps", guidance(ref, steps=steps))
    notebook_ring, _ = ref["make_ring"](5000, torch.Generator().manual_seed(0))
    pasted = check.trained_params(ref["train_ddpm"](notebook_ring, sched, **check.TRAIN_ARGS))
    samples = oracle.sample(oracle.Net(pasted), check.N_SAMPLES, torch.Generator().manual_seed(7071), sched)
    in_mode, shares = oracle.mode_stats(samples, centres)
    print(f"{'trained on the notebook ring, judged on the check ring':<52} in-mode {in_mode:.3f}  "
          f"min share {float(shares.min()):.3f}", flush=True)
    for name in WRONG_TRAINING:
        path = SOLUTIONS / "wrong" / f"{name}.ipynb"
        if path.is_file():
            namespace = notebook_namespace(path)
            show_coverage(f"known-wrong {name}", coverage(namespace))
            show_guidance(f"known-wrong {name} (conditional)", guidance(namespace))


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or list(range(6)))
