"""Measure the thresholds of test_training.py (run by hand; not a check, never sent to the sandbox).

Trains the reference solution's train_flow (solutions/week08-flow/flow.ipynb, run in this process: it is trusted code)
on the check's rotated and shifted moons over several seeds and prints what the check computes: the held-out NLL of the
returned parameters by the oracle's flow, the Gaussian baseline's, and the margin; then the same for short training,
for parameters trained on the notebook's moons, and for the known-wrong notebooks whose training differs. Usage, from
the repository root:

    OMP_NUM_THREADS=1 .venv/bin/python tests/hidden/week08-flow/measure_training.py [seed ...] [--short-only]

--short-only trains only the reference's short runs (SHORT_STEPS optimizer steps, the check's seed).
--loop measures test_train_flow_follows_the_documented_loop instead: each of its runs with five seeds, for the
reference and the known-wrong notebooks whose loop differs (the deviation from oracle.train_loop, min and max).
"""

import sys
import time
from pathlib import Path

import torch

from autograder.measuring import load_check, notebook_namespace

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SOLUTIONS = ROOT / "solutions/week08-flow"
# known-wrong notebooks whose train_flow differs from the reference's (solutions/<id>/wrong/<name>.ipynb)
WRONG_TRAINING = ["train-handful-of-steps", "train-ignores-lr", "missing-permutation", "log-det-sign",
                  "log-prob-missing-log-det", "scale-not-exponentiated", "wrong-half-conditioned"]
SHORT_STEPS = (10, 30, 100, 200, 300)
WRONG_LOOP = ["train-rows-without-replacement", "train-second-generator", "train-ignores-lr", "train-keeps-data-dtype"]


def measure_loop(seeds: range = range(5)) -> None:
    """What test_train_flow_follows_the_documented_loop computes, over more seeds than the check's."""
    torch.set_num_threads(1)
    check = load_check(HERE / "test_training.py")
    print(f"threshold: deviation < {check.MAX_LOOP_DEVIATION}", flush=True)
    for name in ["reference", *WRONG_LOOP]:
        path = SOLUTIONS / ("flow.ipynb" if name == "reference" else f"wrong/{name}.ipynb")
        train_flow = notebook_namespace(path)["train_flow"]
        out = [d for offset in seeds for d in check.loop_deviations(train_flow, offset)]
        print(f"{name:<34} deviation {min(out):.2g} to {max(out):.2g} over {len(out)} runs", flush=True)


def main(seeds: list[int], short_only: bool = False) -> None:
    torch.set_num_threads(1)
    check = load_check(HERE / "test_training.py")
    oracle = check.oracle
    train, held = check.moons_data()
    gauss = oracle.gaussian_nll(train, held)
    print(f"Gaussian baseline: held-out NLL {gauss:.3f}; threshold: margin >= {check.MIN_MARGIN}; "
          f"args {check.TRAIN_ARGS}", flush=True)

    def judge(label, namespace, data=train, **overrides):
        start = time.process_time()
        try:
            params = check.trained_params(namespace["train_flow"](data, **{**check.TRAIN_ARGS, **overrides}))
        except (AssertionError, RuntimeError, ValueError) as exc:
            print(f"{label:<48} no verdict: {exc}", flush=True)
            return
        cpu = time.process_time() - start
        nll = check.held_out_nll(params, held)
        verdict = "pass" if gauss - nll >= check.MIN_MARGIN else "FAIL"
        print(f"{label:<48} NLL {nll:.3f}  margin {gauss - nll:+.3f}  {verdict}  ({cpu:4.1f} s CPU)", flush=True)

    ref = notebook_namespace(SOLUTIONS / "flow.ipynb")
    for seed in [] if short_only else seeds:
        judge(f"reference, seed {seed}", ref, seed=seed)
    for steps in SHORT_STEPS:
        judge(f"reference, {steps} steps", ref, steps=steps)
    if short_only:
        return
    notebook_moons, _ = ref["make_moons"](5000, torch.Generator().manual_seed(0))
    judge("trained on the notebook's moons", ref, data=notebook_moons)
    for name in WRONG_TRAINING:
        path = SOLUTIONS / "wrong" / f"{name}.ipynb"
        if path.is_file():
            judge(f"known-wrong {name}", notebook_namespace(path))


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--loop" in args:
        measure_loop()
        sys.exit()
    main([int(s) for s in args if s != "--short-only"] or list(range(6)), "--short-only" in args)
