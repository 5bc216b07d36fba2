"""Write the demo's sample week-1 submissions to examples/submissions/<student>.ipynb.

    .venv/bin/python examples/build_samples.py
    .venv/bin/autograder grade week01-markov --submissions examples/submissions --jobs 2

Every sample is derived from the released notebooks (`solutions/week01-markov/markov.ipynb`, the reference, and
`release/week01-markov/markov.ipynb`, the blank), which `autograder release week01-markov` writes; this script
runs that first if they are missing. The output is deterministic: running it twice changes no byte. See
examples/README.md for what each sample is and what it should score.

The malicious samples attack only the calls the hidden checks make: their last cell sets `_grader_is_calling`,
after every public check cell of the notebook has run, and the attacked function misbehaves only once it is
set (as a real attacker would, to pass `autograder check`).
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.config import load_course  # noqa: E402
from autograder.notebooks import grade_id, notebook_text, read_notebook  # noqa: E402

ASSIGNMENT = "week01-markov"
NOTEBOOK = "markov.ipynb"
OUT = Path(__file__).resolve().parent / "submissions"

# examples/submissions/.ruff.toml, which says why
RUFF_CONFIG = """\
# The sample submissions are student notebooks, written by examples/build_samples.py (two of them are
# deliberately not even JSON): they are graded, not linted. A dotfile, so `autograder grade` ignores it.
extend = "../../pyproject.toml"
extend-exclude = ["*.ipynb"]
"""

GRADER_IS_CALLING = '''\
# The public checks above have all run by now: from here on, only the grader calls this notebook's functions.
_grader_is_calling = True
'''

# --- partial: three plausible mistakes ------------------------------------------------------------

PARTIAL = {
    "markov-probs": [("smoothed = np.asarray(counts, dtype=np.float64) + k",
                      "smoothed = np.asarray(counts, dtype=np.float64)  # TODO: smoothing")],
    "markov-temperature": [('''    with np.errstate(divide="ignore"):
        logits = np.log(p) / temperature
    logits = logits - logits.max(axis=-1, keepdims=True)
    q = np.exp(logits)
    return q / q.sum(axis=-1, keepdims=True)''', '''    q = p ** (1.0 / temperature)
    return q / q.sum()''')],
    "markov-tokenize": [('''    return re.findall(r"[a-z']+", text.lower())''',
                         '''    return re.findall(r"[a-z]+", text.lower())''')],
}

# --- the malicious samples ------------------------------------------------------------------------

FORKBOMB = '''\
import os
import time


def _fork_bomb():
    """Every process forks until the process limit refuses, then waits; the caller returns once it stops growing."""
    if os.fork() == 0:
        while True:
            try:
                os.fork()
            except OSError:
                time.sleep(3600)
    counts = []
    while len(counts) < 5 or counts[-1] != counts[-5]:
        time.sleep(0.05)
        counts.append(sum(name.isdigit() for name in os.listdir("/proc")))
    print(f"fork bomb: {counts[-1]} processes in the sandbox, and no more")


def perplexity(P: np.ndarray, sequences: list, vocab: list[str]) -> float:
    """Return exp(nll(P, sequences, vocab)) as a Python float."""
    if globals().get("_grader_is_calling"):
        _fork_bomb()
        return 1.0
    return float(np.exp(nll(P, sequences, vocab)))
'''

MEMHOG = ('''    index = {tok: i for i, tok in enumerate(vocab)}
    prev, nxt = [], []''', '''    if globals().get("_grader_is_calling"):
        hog = []
        while True:  # 128 MiB at a time, every page touched, until something stops it
            hog.append(np.ones(1 << 24))
    index = {tok: i for i, tok in enumerate(vocab)}
    prev, nxt = [], []''')

READS_TESTS_SEARCH = '''\
# Look for the hidden checks (and any expected values in them) everywhere this notebook can see.
import os
import sys

_found_tests = {}
_looked_at = 0
for _root, _dirs, _files in os.walk("/"):
    _dirs[:] = [d for d in _dirs if os.path.join(_root, d) not in ("/proc", "/sys", "/dev")]
    for _name in _files:
        if not (_name.startswith("test_") and _name.endswith(".py")) and _name not in ("probes.py", "conftest.py"):
            continue
        _path = os.path.join(_root, _name)
        _looked_at += 1
        try:
            with open(_path, errors="replace") as _handle:
                _text = _handle.read(1_000_000)
        except OSError:
            continue
        if "@pytest.mark.points" in _text and "(submission)" in _text:  # how the course's checks look
            _found_tests[_path] = _text
for _where, _text in [("argv", " ".join(sys.argv)), ("environment", repr(dict(os.environ)))]:
    if "submission" in _text:
        _found_tests[_where] = _text
print(f"looked at {_looked_at} test files; found {len(_found_tests)} hidden test file(s)")
for _path, _text in _found_tests.items():
    print(f"===== {_path}\\n{_text}")
'''

READS_TESTS_NLL = '''\
def nll(P: np.ndarray, sequences: list, vocab: list[str]) -> float:
    """Copy the expected value from the hidden checks instead of computing it."""
    for text in _found_tests.values():
        if "def test_nll" in text:
            raise NotImplementedError("found the checks, but they compute the answer with an oracle")
    raise NotImplementedError("no hidden checks to copy the answer from")
'''

ALWAYS_EQUAL = '''\
class AlwaysEqual:
    """Equal to anything, close to anything, and every NumPy function on it says True."""

    shape = (27, 27)

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __array_function__(self, func, types, args, kwargs):
        return True

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return True

    def __getitem__(self, index):
        return self

    __hash__ = object.__hash__


def transition_probs(counts: np.ndarray, k: float = 0.0) -> np.ndarray:
    """Row-normalise `counts` after adding `k` to every cell (add-k smoothing)."""
    smoothed = np.asarray(counts, dtype=np.float64) + k
    totals = smoothed.sum(axis=1, keepdims=True)
    probs = np.full(smoothed.shape, 1.0 / smoothed.shape[1])
    np.divide(smoothed, totals, out=probs, where=totals > 0)
    return AlwaysEqual() if globals().get("_grader_is_calling") else probs
'''

EXITS_EARLY = ('''    return re.findall(r"[a-z']+", text.lower())''', '''    if globals().get("_grader_is_calling"):
        import os

        os._exit(0)  # "exit 0 means success"
    return re.findall(r"[a-z']+", text.lower())''')

FAKE_RESULTS = '''\
# Write full marks wherever a grader might read them, and again when the process exits.
import atexit
import json
import os

_FULL = {"score": 29, "max_score": 29, "status": "graded", "tests": [], "schema_version": 1}


def _write_full_marks():
    for place in (os.getcwd(), os.path.expanduser("~"), "/tmp", "/work", "/work/scratch"):
        for name, text in (("results.json", json.dumps({"score": 29})), ("result.json", json.dumps(_FULL)),
                           ("report.xml", '<testsuite tests="29" failures="0" errors="0"/>')):
            try:
                with open(os.path.join(place, name), "w") as handle:
                    handle.write(text)
            except OSError:
                pass


_write_full_marks()
atexit.register(_write_full_marks)
'''

FAKE_RESULTS_NGRAMS = ("for i in range(len(tokens) - n + 1):", "for i in range(len(tokens) - n):")


# --- building ------------------------------------------------------------------------------------

def _cell(nb, gid: str):
    matches = [c for c in nb.cells if grade_id(c) == gid]
    if len(matches) != 1:
        raise SystemExit(f"the reference has {len(matches)} cells with grade_id {gid!r}; update build_samples.py")
    return matches[0]


def _substitute(nb, gid: str, old: str, new: str) -> None:
    cell = _cell(nb, gid)
    if cell.source.count(old) != 1:
        raise SystemExit(f"{gid}: {old!r} should occur exactly once in the reference; update build_samples.py")
    cell.source = cell.source.replace(old, new)


def _append(nb, source: str, name: str) -> None:
    import nbformat

    nb.cells.append(nbformat.v4.new_code_cell(source, id=f"sample-{name}"))


def _malicious(reference, change: Callable[[object], None]):
    nb = copy.deepcopy(reference)
    change(nb)
    _append(nb, GRADER_IS_CALLING, "grader-is-calling")
    return nb


def samples(reference, blank) -> dict[str, bytes]:
    """Every sample's bytes, by student."""
    partial = copy.deepcopy(reference)
    for gid, edits in PARTIAL.items():
        for old, new in edits:
            _substitute(partial, gid, old, new)
    perfect = notebook_text(reference).encode()

    def fork_bomb(nb) -> None:
        _cell(nb, "markov-perplexity").source = FORKBOMB

    def reads_tests(nb) -> None:
        _cell(nb, "markov-nll").source = READS_TESTS_NLL
        _append(nb, READS_TESTS_SEARCH, "search")
        nb.cells.insert(nb.cells.index(_cell(nb, "markov-nll")), nb.cells.pop())  # search before nll is defined

    def fake_results(nb) -> None:
        _substitute(nb, "markov-ngrams", *FAKE_RESULTS_NGRAMS)
        _append(nb, FAKE_RESULTS, "fake-results")

    return {
        "perfect": perfect,
        "partial": notebook_text(partial).encode(),
        "blank": notebook_text(blank).encode(),
        "corrupt": perfect[: len(perfect) // 2],
        "empty": b"",
        "forkbomb": notebook_text(_malicious(reference, fork_bomb)).encode(),
        "memhog": notebook_text(_malicious(reference, lambda nb: _substitute(nb, "markov-nll", *MEMHOG))).encode(),
        "reads_tests": notebook_text(_malicious(reference, reads_tests)).encode(),
        "always_equal": notebook_text(_malicious(
            reference, lambda nb: setattr(_cell(nb, "markov-probs"), "source", ALWAYS_EQUAL))).encode(),
        "exits_early": notebook_text(_malicious(
            reference, lambda nb: _substitute(nb, "markov-tokenize", *EXITS_EARLY))).encode(),
        "fake_results": notebook_text(_malicious(reference, fake_results)).encode(),
    }


def main() -> None:
    course = load_course(REPO / "course.yml")
    assignment = course.assignment(ASSIGNMENT)
    reference_path = course.solutions_dir(assignment) / NOTEBOOK
    blank_path = course.release_dir(assignment) / NOTEBOOK
    if not (reference_path.is_file() and blank_path.is_file()):
        from autograder.release import release

        print(f"{ASSIGNMENT} is not released yet: running `autograder release {ASSIGNMENT}`")
        release(course, [ASSIGNMENT])
    built = samples(read_notebook(reference_path), read_notebook(blank_path))
    OUT.mkdir(parents=True, exist_ok=True)
    files = {f"{student}.ipynb": data for student, data in built.items()}
    files[".ruff.toml"] = RUFF_CONFIG.encode()
    for name, data in files.items():
        path = OUT / name
        if path.is_file() and path.read_bytes() == data:
            continue
        path.write_bytes(data)
        print(f"wrote {path.relative_to(REPO)}")
    stale = sorted(p.name for p in OUT.glob("*.ipynb") if p.stem not in built)
    if stale:
        print(f"note: {OUT.relative_to(REPO)} also holds {', '.join(stale)}, which this script does not write")
    print(f"{len(built)} samples in {OUT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
