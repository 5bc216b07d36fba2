"""For the instructor's ``tests/hidden/<id>/measure_training.py`` scripts, which set a training check's threshold
from several seeds: the check module and the reference's (or a known-wrong's) graded code, loaded in this process.

Only for the course's own notebooks, run by the instructor: grading never does this (student code runs only in the
sandbox).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
from pathlib import Path
from types import ModuleType

import nbformat


def load_check(path: Path) -> ModuleType:
    """A hidden check file as a module (its thresholds, data and judging functions), under a name of its own."""
    spec = importlib.util.spec_from_file_location(f"{path.parent.name.replace('-', '_')}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def notebook_namespace(notebook: Path) -> dict:
    """The graded code of a reference or known-wrong notebook, run here quietly (public checks, test cells and
    demos left out)."""
    nb = nbformat.read(notebook, as_version=4)
    namespace = {"__name__": "__main__"}
    for cell in nb.cells:
        grading = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or "skip-grading" in cell.metadata.get("tags", []) or grading.get("grade"):
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(cell.source, str(notebook), "exec"), namespace)  # noqa: S102 - the instructor's notebooks
    return namespace
