"""Measure the margin of test_train_char_lm_learns (run by hand; not a check, never sent to the sandbox).

Trains the reference solution's train_char_lm (solutions/week02-rnn/rnn.ipynb, run in this process: it is trusted
code) on the check's enciphered names over several seeds and ciphers, and prints the held-out loss the check
computes, next to what wrong or pre-fitted parameters get. Usage, from the repository root:

    OMP_NUM_THREADS=1 .venv/bin/python tests/hidden/week02-rnn/measure_training.py [seed ...]

With ``--pretrained-blob`` it prints instead the parameters that the known-wrong submission
wrong/train-pasted-pretrained.yml pastes: the reference trained on all plain census names, quantised to int8 per
tensor, zlib-compressed and base64-encoded.
"""

import base64
import contextlib
import importlib.util
import io
import random
import string
import struct
import sys
import time
import zlib
from pathlib import Path

import nbformat
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]


def _load_check():
    spec = importlib.util.spec_from_file_location("week02_char_lm_check", HERE / "test_char_lm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reference_namespace(substitutions=()):
    """The reference notebook's graded code run here (public checks and demos left out, quietly), with optional
    (old, new) edits of its source."""
    nb = nbformat.read(ROOT / "solutions/week02-rnn/rnn.ipynb", as_version=4)
    namespace = {"__name__": "__main__"}
    for cell in nb.cells:
        grading = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or "skip-grading" in cell.metadata.get("tags", []) or grading.get("grade"):
            continue
        source = cell.source
        for old, new in substitutions:
            assert source.count(old) <= 1, old
            source = source.replace(old, new)
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, "<reference>", "exec"), namespace)  # noqa: S102 - the instructor's own solution
    return namespace


def _timed(label, fn):
    start = time.process_time()
    value = fn()
    print(f"{label:<64} {value:7.4f}   ({time.process_time() - start:4.1f} s CPU)", flush=True)
    return value


# Known-wrong training runs: (old, new) edits of the reference source, as in wrong/*.yml.
WRONG_EDITS = {
    "gru-textbook-reset": [("n = torch.tanh(i_n + r * h_n)",
                            "n = torch.tanh(i_n + (r * h) @ W_hh[2 * h.shape[-1]:].T + b_hh[2 * h.shape[-1]:])")],
    "gru-update-gate-flipped": [("return (1 - z) * n + z * h", "return z * n + (1 - z) * h")],
    "encode-no-end-marker": [("seq = [0] + [STOI[ch] for ch in word] + [0]",
                              "seq = [0] + [STOI[ch] for ch in word]")],
    "lm-logits-no-output-bias": [('hs @ params["W_out"].T + params["b_out"]', 'hs @ params["W_out"].T')],
    "lm-loss-averages-padding": [("ignore_index=IGNORE)", 'ignore_index=IGNORE, reduction="sum") / Y.numel()')],
    "train-no-optimizer-step": [("        optimizer.step()\n", "")],
}


def main(seeds: list[int]) -> None:
    torch.set_num_threads(1)
    check = _load_check()
    args, T = dict(check.TRAIN_ARGS), check.TRAIN_ARGS["T"]
    train, heldout = check._cipher_split()
    plain_train, plain_heldout = _plain_split(check)
    ref = _reference_namespace()

    def trained_loss(namespace, words, evaluate_on, **overrides):
        params, _unused = namespace["train_char_lm"](words, **{**args, **overrides})
        return check.heldout_loss({k: v.double() for k, v in params.items()}, evaluate_on, T)

    def as_double(params):
        return {k: v.double() for k, v in params.items()}

    bar = check.bigram_baseline(*check._cipher_split(), check.TRAIN_ARGS["T"]) - check.BASELINE_MARGIN
    print(f"bar: bigram baseline - {check.BASELINE_MARGIN} = {bar:.4f}; ln 27 = {torch.log(torch.tensor(27.0)):.4f}")
    print(f"{len(train)} training and {len(heldout)} held-out names, T = {T}")
    ref_losses = [_timed(f"reference, check's cipher, seed {seed}",
                         lambda s=seed: trained_loss(ref, train, heldout, seed=s)) for seed in seeds]
    for cipher_seed in (1, 2, 3):
        letters = list(string.ascii_lowercase)
        random.Random(cipher_seed).shuffle(letters)
        table = str.maketrans(string.ascii_lowercase, "".join(letters))
        coded_train = [w.translate(table) for w in plain_train]
        coded_heldout = [w.translate(table) for w in plain_heldout]
        _timed(f"reference, another cipher ({cipher_seed}), seed 0",
               lambda a=coded_train, b=coded_heldout: trained_loss(ref, a, b))
    print(f"reference over {len(seeds)} seeds: min {min(ref_losses):.4f}, max {max(ref_losses):.4f}")

    init = ref["init_char_lm"](args["hidden"], torch.Generator().manual_seed(0))
    _timed("untrained init_char_lm", lambda: check.heldout_loss(as_double(init), heldout, T))
    _timed("bigram counts of the training names (add-1), for scale", lambda: check.bigram_baseline(train, heldout, T))
    _timed("reference trained on plain names, judged on plain held-out",
           lambda: trained_loss(ref, plain_train, plain_heldout))
    _timed("reference trained on plain names, judged on the cipher", lambda: trained_loss(ref, plain_train, heldout))
    _timed("reference, 1500 steps on plain names, judged on the cipher",
           lambda: trained_loss(ref, plain_train, heldout, steps=1500))
    for name, edits in WRONG_EDITS.items():
        namespace = _reference_namespace(edits)
        _timed(f"known-wrong {name}", lambda n=namespace: trained_loss(n, train, heldout))


def pretrained_blob() -> str:
    """Reference parameters fitted to the plain names (hidden 64, 1500 Adam steps, lr 0.01, T 8, seed 0) as text."""
    torch.set_num_threads(1)
    check = _load_check()
    ref = _reference_namespace()
    params, _unused = ref["train_char_lm"](check._names(), hidden=64, steps=1500, batch_size=128, lr=0.01, T=8, seed=0)
    chunks = []
    for key in sorted(params):
        value = params[key]
        scale = float(value.abs().max()) / 127 or 1.0
        chunks.append(struct.pack("<f", scale) + torch.round(value / scale).to(torch.int8).numpy().tobytes())
    text = base64.b64encode(zlib.compress(b"".join(chunks), 9)).decode("ascii")
    return "\n".join(text[i:i + 100] for i in range(0, len(text), 100))


def _plain_split(check):
    words = check._names()
    random.Random(0).shuffle(words)
    return words[:check.N_TRAIN], words[check.N_TRAIN:]


if __name__ == "__main__":
    if sys.argv[1:] == ["--pretrained-blob"]:
        print(pretrained_blob())
    else:
        main([int(s) for s in sys.argv[1:]] or list(range(8)))
