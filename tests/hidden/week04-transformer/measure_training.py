"""Measure the margin of test_train_gpt_learns (run by hand; not a check, never sent to the sandbox).

Trains the reference solution's train_gpt (solutions/week04-transformer/transformer.ipynb, run in this process: it is
trusted code) on the check's enciphered names over several seeds and ciphers, and prints the held-out loss the check
computes, next to the bigram baseline and what short, wrong or pre-fitted training gets. Usage, from the repository
root:

    OMP_NUM_THREADS=1 .venv/bin/python tests/hidden/week04-transformer/measure_training.py [seed ...]
"""

import random
import string
import sys
import time
from pathlib import Path

import torch

from autograder.measuring import load_check, notebook_namespace

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]


def _timed(label, fn):
    start = time.process_time()
    value = fn()
    print(f"{label:<64} {value:7.4f}   ({time.process_time() - start:4.1f} s CPU)", flush=True)
    return value


# Known-wrong submissions whose training the check must reject (solutions/<id>/wrong/<name>.ipynb, written by
# `autograder release` from wrong/<name>.yml), and some it must accept (their training is right; another check fails).
SOLUTIONS = ROOT / "solutions/week04-transformer"
WRONG_TRAINING = ["block-post-norm", "block-no-attention-residual", "positions-after-first-block",
                  "causal-mask-off-by-one", "embed-ignores-start", "layer-norm-unbiased-variance",
                  "gelu-tanh-approximation"]


def main(seeds: list[int]) -> None:
    torch.set_num_threads(1)
    check = load_check(HERE / "test_training.py")
    args, T = dict(check.TRAIN_ARGS), check.TRAIN_ARGS["block_size"]
    train, heldout = check.cipher_split()
    plain_train, plain_heldout = check.week1_split(check.census_names())
    ref = notebook_namespace(SOLUTIONS / "transformer.ipynb")

    def judged(params, evaluate_on=heldout):
        """The check's verdict quantity for parameters in init_gpt's layout (format checked as the check does)."""
        return check.heldout_loss(check.trained_params((params, [0.0]), **{**args, "steps": 1}), evaluate_on, T)

    def trained_loss(namespace, words, evaluate_on, **overrides):
        params, _ = namespace["train_gpt"](list(words), **{**args, **overrides})
        return judged(params, evaluate_on)

    bigram = check.bigram_loss(train, heldout, T)
    print(f"threshold: bigram {bigram:.4f} - MARGIN {check.MARGIN} = {bigram - check.MARGIN:.4f}; "
          f"ln 27 = {torch.log(torch.tensor(27.0)):.4f}")
    print(f"{len(train)} training and {len(heldout)} held-out names, T = {T}, args {args}")
    ref_losses = [_timed(f"reference, check's cipher, seed {seed}",
                         lambda s=seed: trained_loss(ref, train, heldout, seed=s)) for seed in seeds]
    print(f"reference over {len(seeds)} seeds: min {min(ref_losses):.4f}, max {max(ref_losses):.4f}")
    for cipher_seed in (1, 2):
        letters = list(string.ascii_lowercase)
        random.Random(cipher_seed).shuffle(letters)
        table = str.maketrans(string.ascii_lowercase, "".join(letters))
        _timed(f"reference, another cipher ({cipher_seed}), seed 3",
               lambda t=table: trained_loss(ref, [w.translate(t) for w in plain_train],
                                            [w.translate(t) for w in plain_heldout]))
    _timed("reference on plain names, judged on plain held-out names",
           lambda: trained_loss(ref, plain_train, plain_heldout))
    _timed("reference trained on plain names, judged on the cipher", lambda: trained_loss(ref, plain_train, heldout))
    _timed("reference, 10 steps", lambda: trained_loss(ref, train, heldout, steps=10))
    _timed("reference, 100 steps", lambda: trained_loss(ref, train, heldout, steps=100))
    init = ref["init_gpt"](32, 4, 2, T, torch.Generator().manual_seed(0))
    _timed("untrained init_gpt", lambda: judged(init))
    for name in WRONG_TRAINING:
        namespace = notebook_namespace(SOLUTIONS / "wrong" / f"{name}.ipynb")
        _timed(f"known-wrong {name}", lambda n=namespace: trained_loss(n, train, heldout))


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or list(range(8)))
