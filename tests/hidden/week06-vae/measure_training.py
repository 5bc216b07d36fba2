"""Measure the margin of test_train_vae_learns (run by hand; not a check, never sent to the sandbox).

Trains the reference solution's train_vae (solutions/week06-vae/vae.ipynb, run in this process: it is trusted code)
on the check's pixel-shuffled digits over several seeds and prints the held-out negative ELBO the check computes,
next to the independent-pixel baseline and what short, wrong or pre-fitted training gets. Usage, from the
repository root:

    OMP_NUM_THREADS=1 .venv/bin/python tests/hidden/week06-vae/measure_training.py [seed ...]
"""

import sys
import time
from pathlib import Path

import torch

from autograder.measuring import load_check, notebook_namespace

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SOLUTIONS = ROOT / "solutions/week06-vae"
# Known-wrong submissions whose training the check must reject, and some it must accept (their training is right).
WRONG_TRAINING = ["reparam-logvar-as-std", "reparam-variance-as-std", "reparam-blocks-gradient",
                  "reparam-detached-std", "kl-wrong-sign", "kl-mean-over-latents", "neg-elbo-kl-summed-over-batch",
                  "nll-mean-over-pixels", "decode-returns-probabilities", "encode-heads-swapped",
                  "train-handful-of-steps"]


def _timed(label, fn):
    start = time.process_time()
    value = fn()
    print(f"{label:<60} {value:8.3f}   ({time.process_time() - start:4.1f} s CPU)", flush=True)
    return value


def main(seeds: list[int]) -> None:
    torch.set_num_threads(1)
    check = load_check(HERE / "test_training.py")
    args = dict(check.TRAIN_ARGS)
    train, heldout = check.shuffled_split()
    plain_train, plain_heldout = check.digits_split()
    ref = notebook_namespace(SOLUTIONS / "vae.ipynb")

    def trained(namespace, x, evaluate_on, **overrides):
        params, _ = namespace["train_vae"](x.to(torch.float32), **{**args, **overrides})
        return check.heldout_neg_elbo(check.trained_params((params, [0.0]), **{**args, "steps": 1}), evaluate_on)

    baseline = check.independent_pixels(train, heldout)
    print(f"threshold: independent pixels {baseline:.3f} - MARGIN {check.MARGIN} = {baseline - check.MARGIN:.3f}")
    print(f"{len(train)} training and {len(heldout)} held-out images, args {args}")
    results = [_timed(f"reference, seed {seed}", lambda s=seed: trained(ref, train, heldout, seed=s)) for seed in seeds]
    print(f"reference over {len(seeds)} seeds: min {min(results):.3f}, max {max(results):.3f}")
    _timed("reference on plain digits, judged on plain held-out", lambda: trained(ref, plain_train, plain_heldout))
    _timed("reference trained on plain digits, judged on the shuffle", lambda: trained(ref, plain_train, heldout))
    for steps in (20, 100, 300):
        _timed(f"reference, {steps} steps", lambda n=steps: trained(ref, train, heldout, steps=n))
    for name in WRONG_TRAINING:
        namespace = notebook_namespace(SOLUTIONS / "wrong" / f"{name}.ipynb")
        _timed(f"known-wrong {name}", lambda n=namespace: trained(n, train, heldout))


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or list(range(8)))
