"""Reading notebooks as Jupyter saves them, cell roles, and magics (the graded program: test_program.py)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbgrader import utils as nbgrader_utils

from autograder import notebooks as nbs


def _cell(kind="code", source="", **flags):
    meta = {"nbgrader": {"schema_version": 3, "grade": False, "solution": False, "locked": False, **flags}}
    maker = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    return maker(source, metadata=meta)


@pytest.mark.parametrize("grade", [False, True])
@pytest.mark.parametrize("solution", [False, True])
@pytest.mark.parametrize("locked", [False, True])
def test_cell_roles_agree_with_nbgrader(grade, solution, locked):
    cell = _cell(grade=grade, solution=solution, locked=locked, grade_id="x", points=1)
    assert nbs.is_grade(cell) == nbgrader_utils.is_grade(cell)
    assert nbs.is_solution(cell) == nbgrader_utils.is_solution(cell)
    assert nbs.is_locked(cell) == nbgrader_utils.is_locked(cell)


def _toy_notebook() -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title"),
        _cell(source="def f():\n    return 1", solution=True, grade_id="answer"),
        _cell(source="assert f() == 1", grade=True, locked=True, points=0, grade_id="check"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


def _sources(nb) -> list[str]:
    return [c.source for c in nb.cells]


def test_nbformat_3_is_upgraded_with_its_nbgrader_metadata(tmp_path: Path):
    path = tmp_path / "old.ipynb"
    path.write_text(nbformat.writes(nbformat.convert(_toy_notebook(), 3), version=3))
    assert json.loads(path.read_text())["nbformat"] == 3 and "worksheets" in json.loads(path.read_text())
    nb = nbs.read_notebook(path)
    assert nb.nbformat == 4 and _sources(nb) == _sources(_toy_notebook())
    assert nbs.grade_id(nb.cells[1]) == "answer" and nbs.is_public_check(nb.cells[2])


@pytest.mark.parametrize("minor", [0, 1, 2, 3, 4, 5])
def test_every_nbformat_4_minor_version_reads(tmp_path: Path, minor: int):
    data = json.loads(nbformat.writes(_toy_notebook()))
    data["nbformat_minor"] = minor
    for cell in data["cells"]:
        cell.pop("id", None)  # cell ids came with 4.5
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(data))
    assert _sources(nbs.read_notebook(path)) == _sources(_toy_notebook())


def test_byte_order_mark_crlf_and_single_string_sources_read(tmp_path: Path):
    data = json.loads(nbformat.writes(_toy_notebook()))
    for cell in data["cells"]:
        cell["source"] = "".join(cell["source"]).replace("\n", "\r\n")  # one string, Windows line ends
    text = json.dumps(data, indent=1).replace("\n", "\r\n")
    path = tmp_path / "windows.ipynb"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    nb = nbs.read_notebook(path)
    assert [s.replace("\r\n", "\n") for s in _sources(nb)] == _sources(_toy_notebook())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty, not a notebook"),
        (b"\xef\xbb\xbf", "invalid JSON"),
        (b'{"cells": [', "invalid JSON at line 1"),
        (b"[1, 2]", "not a Jupyter notebook (the JSON is list, not an object)"),
        (b'{"cells": []}', "not a Jupyter notebook (no 'nbformat' key)"),
        (b'{"nbformat": "4", "cells": []}', "'nbformat' is '4', not a format version"),
        (b'{"nbformat": 5, "nbformat_minor": 0, "cells": []}', "nbformat 5 is newer than this autograder reads"),
        (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}}', "nbformat 4 but no 'cells' key"),
        (b'{"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": "none"}',
         "nbformat 3 notebook could not be upgraded: "),
        (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]}',
         "not a valid notebook ("),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not a notebook (the file is not UTF-8 text)"),
    ],
)
def test_each_file_level_failure_is_named(tmp_path: Path, content: bytes, message: str):
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    with pytest.raises(nbs.NotebookError) as caught:
        nbs.read_notebook(path)
    assert message in str(caught.value) and str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_odd_cell_metadata_is_no_role_not_a_crash():
    cell = nbformat.from_dict({"cell_type": "code", "source": "x = 1",
                               "metadata": {"nbgrader": "locked", "tags": "skip-grading"}})
    assert nbs.grade_id(cell) is None and not nbs.is_locked(cell) and not nbs.has_tag(cell, nbs.SKIP_TAG)
    odd = nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {"grade_id": ["a"], "locked": True}})
    assert nbs.grade_id(odd) is None and nbs.is_locked(odd)
