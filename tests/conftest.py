"""Shared fixtures for the autograder's own tests: a throw-away copy of the toy course."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.config import Course, load_course
from autograder.release import release

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[1]
AUTOGRADER = [sys.executable, "-m", "autograder"]


@pytest.fixture
def toy_root(tmp_path: Path) -> Path:
    """A fresh copy of tests/fixtures/toycourse (source, hidden checks, known-wrong specs), unreleased."""
    root = tmp_path / "course"
    shutil.copytree(FIXTURES / "toycourse", root,
                    ignore=shutil.ignore_patterns("release", "solutions", "__pycache__"))
    return root


@pytest.fixture
def toy(toy_root: Path) -> Course:
    """The toy course, released."""
    course = load_course(toy_root / "course.yml")
    release(course)
    return course


def week1_course(root: Path) -> Course:
    """A copy of the real course at ``root`` holding week 1 only (source, release, hidden checks): a batch graded
    there writes its gradebook and results there, not into the repository."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "course.yml", root / "course.yml")
    for part in ("source", "release/week01-markov", "tests/hidden/week01-markov"):
        shutil.copytree(REPO / part, root / part)
    return load_course(root / "course.yml")


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the `autograder` command as a user would (``env``: extra environment variables)."""
    env = {**os.environ, "COLUMNS": "250", **(env or {})}  # tables unwrapped, so assertions can read whole lines
    return subprocess.run([*AUTOGRADER, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
