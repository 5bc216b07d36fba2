"""Reading notebooks safely, nbgrader cell roles, and code cells as a grader runs them.

Which cells make up a submission's graded program is decided in :mod:`autograder.program`.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # nbformat takes over a second to import; grading processes avoid it
    from nbformat import NotebookNode

from .errors import NotebookError

SKIP_TAG = "skip-grading"
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024  # a submission larger than this is refused unread
METADATA_KEY = "autograder"  # notebook-level metadata written by `release`; cell-level: our own flags
SANDBOX_FLAG = "run_in_sandbox"  # cell metadata {"autograder": {"run_in_sandbox": true}} on an nbgrader test cell


def read_notebook(path: Path, max_bytes: int = MAX_NOTEBOOK_BYTES) -> NotebookNode:
    """Read ``path`` as an nbformat-4 notebook, or raise one clear :class:`NotebookError`.

    What Jupyter opens is accepted: a UTF-8 byte-order mark, Windows line endings, sources saved as one string
    or as a list of lines, and older formats (nbformat 3 and earlier), upgraded with nbformat's own converter.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise NotebookError(f"cannot read the file ({exc.strerror})", path) from None
    if size == 0:
        raise NotebookError("the file is empty, not a notebook", path)
    if size > max_bytes:
        raise NotebookError(f"the file is {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:.0f} MiB limit", path)
    try:
        text = path.read_bytes().decode("utf-8-sig")  # (a byte-order mark, as some Windows editors write, is dropped)
    except UnicodeDecodeError:
        raise NotebookError("not a notebook (the file is not UTF-8 text)", path) from None
    except OSError as exc:
        raise NotebookError(f"cannot read the file ({exc.strerror})", path) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"not a notebook (invalid JSON at line {exc.lineno}: {exc.msg})", path) from None
    return _notebook_of(data, text, path)


def _notebook_of(data: object, text: str, path: Path) -> NotebookNode:
    """The parsed JSON as a valid nbformat-4 notebook; each way it can fail is named."""
    if not isinstance(data, dict):
        raise NotebookError(f"not a Jupyter notebook (the JSON is {type(data).__name__}, not an object)", path)
    version = data.get("nbformat")
    if version is None:
        raise NotebookError("not a Jupyter notebook (no 'nbformat' key)", path)
    if type(version) is not int or version < 1:
        raise NotebookError(f"not a Jupyter notebook ('nbformat' is {version!r}, not a format version)", path)
    if version > 4:
        raise NotebookError(f"nbformat {version} is newer than this autograder reads (4 and older)", path)
    if version == 4 and "cells" not in data:
        raise NotebookError("not a valid notebook (nbformat 4 but no 'cells' key)", path)
    import nbformat

    try:
        with warnings.catch_warnings():  # (a missing cell id is added on reading; not worth a warning)
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4)
            nbformat.validate(nb)
    except Exception as exc:  # nbformat raises a variety of types on odd input
        detail = " ".join(str(getattr(exc, "message", None) or exc).split())[:300]
        if version < 4:
            raise NotebookError(f"nbformat {version} notebook could not be upgraded: {detail}", path) from None
        raise NotebookError(f"not a valid notebook ({detail})", path) from None
    return nb


def write_notebook(nb: NotebookNode, path: Path) -> None:
    """Write deterministically (sorted keys, fixed indent) so re-running a release changes no byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(notebook_text(nb), encoding="utf-8")


def notebook_text(nb: NotebookNode) -> str:
    import nbformat

    return nbformat.writes(nb) + "\n"


# --- cell roles -----------------------------------------------------------------------------------
# The same rules as nbgrader/utils.py (is_grade, is_solution, is_locked; tests/test_notebooks.py checks
# they agree), written out because importing nbgrader costs two seconds on every grading process.

def _nbgrader(cell: NotebookNode) -> dict:
    """The cell's nbgrader metadata; {} when absent or not a mapping (a student's file may hold anything)."""
    data = cell.get("metadata", {}).get("nbgrader", {})
    return data if isinstance(data, dict) else {}


def grade_id(cell: NotebookNode) -> str | None:
    gid = _nbgrader(cell).get("grade_id")
    return gid if isinstance(gid, str) and gid else None


def is_grade(cell: NotebookNode) -> bool:
    return bool(_nbgrader(cell).get("grade", False))


def is_solution(cell: NotebookNode) -> bool:
    return bool(_nbgrader(cell).get("solution", False))


def is_locked(cell: NotebookNode) -> bool:
    """Solutions are never locked, grade cells always are, anything else when flagged."""
    if is_solution(cell):
        return False
    return is_grade(cell) or bool(_nbgrader(cell).get("locked", False))


def is_public_check(cell: NotebookNode) -> bool:
    """A locked test cell: asserts the student sees (``grade`` without ``solution``)."""
    return is_grade(cell) and not is_solution(cell) and cell.get("cell_type") == "code"


def has_tag(cell: NotebookNode, tag: str) -> bool:
    tags = cell.get("metadata", {}).get("tags", [])
    return isinstance(tags, list) and tag in tags


def points(cell: NotebookNode) -> float:
    value = _nbgrader(cell).get("points", 0)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def in_sandbox(cell: NotebookNode) -> bool:
    own = cell.get("metadata", {}).get(METADATA_KEY, {})
    return isinstance(own, dict) and bool(own.get(SANDBOX_FLAG))


def is_test_cell(cell: NotebookNode) -> bool:
    """An autograded test cell worth points: graded by the trusted side (points 0: a public check, as before)."""
    m = _nbgrader(cell)
    return (cell.get("cell_type") == "code" and bool(m.get("grade")) and not m.get("solution")
            and points(cell) > 0)


def is_trusted_test_cell(cell: NotebookNode) -> bool:
    """A test cell whose code runs here, never in the sandbox."""
    return is_test_cell(cell) and not in_sandbox(cell)


def is_manual_cell(cell: NotebookNode) -> bool:
    """A manually graded answer (grade and solution) or task cell worth points."""
    m = _nbgrader(cell)
    return points(cell) > 0 and ((bool(m.get("grade")) and bool(m.get("solution"))) or bool(m.get("task")))


def cells_by_grade_id(nb: NotebookNode) -> dict[str, NotebookNode]:
    return {gid: cell for cell in nb.cells if (gid := grade_id(cell))}


def assignment_of(nb: NotebookNode) -> str | None:
    """The assignment id that `release` stamped into the notebook's metadata, if any."""
    return nb.metadata.get(METADATA_KEY, {}).get("assignment")


# --- what a grader executes ----------------------------------------------------------------------

@dataclass(frozen=True)
class CodeCell:
    """A code cell as the grader runs it: ``label`` names it in feedback."""

    label: str
    source: str


def code_to_run(cells: list[NotebookNode]) -> list[CodeCell]:
    """Code cells in order, minus ``skip-grading`` ones and empty ones, as written: IPython runs them (magics,
    shell escapes and all) the way Jupyter's kernel would (autograder/shell.py)."""
    return [CodeCell(label=grade_id(cell) or f"cell {index + 1}", source=cell.source)
            for index, cell in enumerate(cells)
            if cell.cell_type == "code" and not has_tag(cell, SKIP_TAG) and cell.source.strip()]


def imported_modules(cells: list[CodeCell]) -> list[str]:
    """Modules the code imports at top level (``numpy``, ``matplotlib.pyplot``): what a warm runner preloads."""
    import ast

    found: dict[str, None] = {}
    for cell in cells:
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                found.update((alias.name, None) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found[node.module] = None
    return list(found)
