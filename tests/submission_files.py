"""Submission folders as students and LMSs hand them in, for the discovery and grading tests: notebooks of the
toy course (reference, release, known-wrong), file times set on purpose, and a two-notebook assignment."""

from __future__ import annotations

import datetime as dt
import json
import os
import unicodedata
from pathlib import Path

from autograder.config import Course, load_course
from autograder.release import release

DAY1 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
SPLIT = "week00-split"
SPLIT_ENTRY = f"""
  - id: {SPLIT}
    title: Adding numbers, in two notebooks
    week: 0
    notebooks: [part1.ipynb, part2.ipynb]
    release: 2026-01-01
    due: 2026-01-08
    time_limit: 60
    memory: 1GiB
    gpu: none
"""


def nfd(text: str) -> str:
    """A name as macOS writes it to disk (decomposed)."""
    return unicodedata.normalize("NFD", text)


def at(hours: float) -> dt.datetime:
    return DAY1 + dt.timedelta(hours=hours)


def put(path: Path, data: bytes, when: dt.datetime | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if when:
        os.utime(path, (when.timestamp(), when.timestamp()))
    return path


def toy_notebook(course: Course, kind: str) -> bytes:
    """``reference``, ``release`` or ``wrong`` (add subtracts: 3 of 6 points) of week00-toy."""
    paths = {"reference": "solutions/week00-toy/toy.ipynb", "release": "release/week00-toy/toy.ipynb",
             "wrong": "solutions/week00-toy/wrong/add_subtracts.ipynb"}
    return (course.root / paths[kind]).read_bytes()


def split_course(toy_root: Path) -> Course:
    """The toy course with a second assignment, week00-split: the toy notebook cut in two (part1: add, part2:
    scale), graded by the same hidden checks; released."""
    source = json.loads((toy_root / "source/week00-toy/toy.ipynb").read_text())
    cut = next(i for i, c in enumerate(source["cells"]) if c["metadata"].get("nbgrader", {}).get("grade_id")
               == "answer-scale")
    folder = toy_root / "source" / SPLIT
    folder.mkdir(parents=True)
    setup = next(c for c in source["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "setup")
    metadata = {"nbgrader": {**setup["metadata"]["nbgrader"], "grade_id": "setup2"}}
    setup2 = {**setup, "id": "setup2", "metadata": metadata}
    # (part2 imports numpy itself: a line the hidden checks share must be public in every notebook to release)
    for name, cells in (("part1.ipynb", source["cells"][:cut]), ("part2.ipynb", [setup2, *source["cells"][cut:]])):
        (folder / name).write_text(json.dumps({**source, "cells": cells}, indent=1))
    hidden = toy_root / "tests/hidden" / SPLIT
    hidden.mkdir(parents=True)
    (hidden / "test_toy.py").write_bytes((toy_root / "tests/hidden/week00-toy/test_toy.py").read_bytes())
    with (toy_root / "course.yml").open("a") as handle:
        handle.write(SPLIT_ENTRY)
    course = load_course(toy_root / "course.yml")
    release(course)
    return course


def split_notebook(course: Course, kind: str, part: str) -> bytes:
    """``reference`` or ``release`` of one part of week00-split."""
    folder = "solutions" if kind == "reference" else "release"
    return (course.root / folder / SPLIT / part).read_bytes()


def without_grade_ids(data: bytes) -> bytes:
    """The notebook as Colab or VS Code saves it: nbgrader's cell metadata gone."""
    nb = json.loads(data)
    for cell in nb["cells"]:
        cell["metadata"].pop("nbgrader", None)
    return json.dumps(nb).encode()
