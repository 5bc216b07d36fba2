"""Measure the reference's train_gan as the hidden check judges it (not a test: run it by hand).

    OMP_NUM_THREADS=1 nice .venv/bin/python tests/hidden/week05-gan/measure_training.py [seeds...] [--steps N]

Loads the graded cells of solutions/week05-gan/gan.ipynb in this process and prints, per seed, (modes hit, share
near a mode) from test_training's own coverage measure, and the CPU time of the run.
"""

import argparse
import importlib.util
import json
import time
from pathlib import Path

import torch

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("week05_training", HERE / "test_training.py")
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)


def reference_namespace() -> dict:
    notebook = json.loads((HERE.parents[2] / "solutions/week05-gan/gan.ipynb").read_text())
    namespace: dict = {}
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code" and "skip-grading" not in cell["metadata"].get("tags", []):
            exec("".join(cell["source"]), namespace)
    return namespace


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("seeds", nargs="*", type=int, default=[0, 1, 2, 3, 4, 5])
    parser.add_argument("--steps", type=int, default=check.TRAIN_ARGS["steps"])
    options = parser.parse_args()
    ns = reference_namespace()
    for seed in options.seeds:
        args = {**check.TRAIN_ARGS, "seed": seed, "steps": options.steps}
        start = time.process_time()
        G = check.generator_params(ns["train_gan"](check.ring("cpu"), **args), **args)
        seconds = time.process_time() - start
        modes, near = check.oracle.coverage(G, check.ANGLE, check.SAMPLES, torch.Generator().manual_seed(77),
                                            check.NEAR, check.MIN_SHARE)
        print(f"seed {seed} steps {options.steps}: {modes}/8 modes, {near:.3f} near, {seconds:.1f} s CPU", flush=True)


if __name__ == "__main__":
    main()
