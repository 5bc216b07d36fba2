"""The command line as a person meets it: quick to start, versioned, fixed choices validated, and nudges where a
run would otherwise mislead (a stale release, a batch where nothing was gradable)."""

from __future__ import annotations

import json
import subprocess
import sys

from autograder.config import Course

from .conftest import AUTOGRADER, REPO, cli

HEAVY = ("nbformat", "nbgrader", "nbclient", "pytest", "torch", "numpy", "pandas", "IPython")


def test_the_command_line_starts_without_the_notebook_and_tensor_libraries():
    """`--help` and shell completion import only what they need (measured in `make bench`: well under 0.3 s)."""
    code = f"import sys, autograder.cli; print([m for m in {HEAVY!r} if m in sys.modules])"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert loaded.stdout.strip() == "[]"


def test_version_and_completion_are_offered():
    from autograder import __version__

    result = subprocess.run([*AUTOGRADER, "--version"], capture_output=True, text=True, cwd=REPO)
    assert (result.returncode, result.stdout.strip()) == (0, f"autograder {__version__}")
    helped = subprocess.run([*AUTOGRADER, "--help"], capture_output=True, text=True, cwd=REPO,
                            env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert "--install-completion" in helped.stdout and "--version" in helped.stdout


def test_fixed_choices_are_shown_and_validated(toy: Course):
    helped = cli("grade", "--help", cwd=toy.root)
    assert "local|docker" in helped.stdout and "Examples:" in helped.stdout
    wrong = cli("grade", "week00-toy", "--backend", "kubernetes", cwd=toy.root)
    assert (wrong.returncode, wrong.stderr) == \
        (2, "error: Invalid value for '--backend': 'kubernetes' is not one of 'local', 'docker'; see --help\n")
    missing = cli("grade", cwd=toy.root)
    assert (missing.returncode, missing.stderr) == (2, "error: Missing argument 'assignment'; see --help\n")


def test_validate_releases_a_stale_assignment_again_and_says_so(toy: Course):
    source = toy.root / "source/week00-toy/toy.ipynb"
    source.write_text(source.read_text().replace("np.asarray(x) * k", "k * np.asarray(x)"))
    result = cli("validate", "week00-toy", "--backend", "inprocess", "--jobs", "1", cwd=toy.root)
    assert result.stderr.strip() == \
        "week00-toy: release/ or solutions/ out of date with source/, released again before validating"
    assert result.returncode == 0, result.stdout + result.stderr
    assert "k * np.asarray(x)" in (toy.root / "solutions/week00-toy/toy.ipynb").read_text()
    assert cli("release", "--check", cwd=toy.root).returncode == 0


def test_a_batch_where_nothing_was_gradable_is_flagged(toy: Course, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "alice.ipynb").write_text("{ not json")
    (folder / "bob.ipynb").write_text(json.dumps({"cells": "nope"}))
    result = cli("grade", "week00-toy", "--submissions", str(folder), cwd=toy.root)
    assert result.returncode == 0
    assert "all 2 submission(s) were ungradable" in result.stderr
