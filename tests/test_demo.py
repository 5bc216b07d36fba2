"""The demo's sample week-1 submissions (examples/): what `make demo` grades, with the scores examples/README.md
promises. The perfect one earns full marks, the blank one nothing, the partial one something in between, the
broken files are ungradable with a reason, and every malicious one earns no more than its honest parts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from autograder.grading import grade
from autograder.results import Status

from .conftest import REPO, week1_course

SAMPLES = REPO / "examples" / "submissions"
# student -> (status, score) from examples/README.md; the malicious ones lose exactly the part they attack
EXPECTED = {
    "perfect": (Status.graded, 29), "partial": (Status.graded, 23), "blank": (Status.graded, 0),
    "corrupt": (Status.ungradable, 0), "empty": (Status.ungradable, 0),
    "forkbomb": (Status.graded, 28), "memhog": (Status.graded, 26), "reads_tests": (Status.graded, 26),
    "always_equal": (Status.graded, 24), "exits_early": (Status.graded, 28), "fake_results": (Status.graded, 27),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    course = week1_course(tmp_path_factory.mktemp("demo") / "course")
    batch = grade(course, course.assignment("week01-markov"), submissions=SAMPLES, jobs=2, regrade=True)
    return {r.student: r for r in batch.results}


def test_every_sample_gets_the_score_the_readme_promises(graded: dict):
    assert {s: (r.status, r.score) for s, r in graded.items()} == EXPECTED


def test_broken_files_are_ungradable_with_a_reason(graded: dict):
    assert "not a notebook (invalid JSON" in graded["corrupt"].reason
    assert graded["empty"].reason == "markov.ipynb is empty"


def test_limits_are_reported_in_plain_words(graded: dict):
    assert "ran out of memory (limit 2 GiB) while calling `nll`" in graded["memhog"].reason
    assert "exited (status 0) while calling `tokenize_words`" in graded["exits_early"].reason


def _files() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in SAMPLES.iterdir() if p.is_file()}


def test_the_samples_are_what_build_samples_writes():
    """examples/build_samples.py is deterministic and the committed samples are its current output."""
    before = _files()
    try:
        subprocess.run([sys.executable, str(REPO / "examples" / "build_samples.py")], check=True,
                       capture_output=True, timeout=300)
        after = _files()
    finally:  # leave the tree as it was, whatever happened
        for name in set(_files()) - set(before):
            (SAMPLES / name).unlink()
        for name, data in before.items():
            (SAMPLES / name).write_bytes(data)
    assert after == before
