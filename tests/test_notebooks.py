"""Cell roles, the grading merge of a submission with its release, and magics."""

from __future__ import annotations

import copy

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


def _release():
    return nbformat.v4.new_notebook(cells=[
        _cell(source="import math", locked=True, grade_id="setup"),
        _cell(source="def f():\n    raise NotImplementedError()", solution=True, grade_id="answer"),
        _cell(source="assert f() == 1", grade=True, locked=True, points=0, grade_id="check"),
    ])


def test_merge_restores_locked_cells_and_keeps_answers_and_extra_cells():
    release = _release()
    student = copy.deepcopy(release)
    student.cells[0].source = "import os; os.system('rm -rf /')"     # an edited locked cell
    student.cells[1].source = "def f():\n    return 1"
    student.cells.insert(2, nbformat.v4.new_code_cell("helper = 2"))   # the student's own cell
    del student.cells[3]                                               # the check cell, deleted
    merged = nbs.merge_submission(student, release)
    assert [c.source for c in merged] == ["import math", "def f():\n    return 1", "helper = 2",
                                          "assert f() == 1"]


def test_merge_uses_the_stub_when_an_answer_cell_is_deleted():
    release = _release()
    student = copy.deepcopy(release)
    del student.cells[1]
    assert "NotImplementedError" in nbs.merge_submission(student, release)[1].source


def test_skip_grading_comes_from_the_release_not_the_student():
    release = _release()
    release.cells[0].metadata["tags"] = ["skip-grading"]
    student = copy.deepcopy(release)
    student.cells[0].metadata["tags"] = []
    student.cells[2].metadata["tags"] = ["skip-grading"]                # trying to skip the check
    labels = [c.label for c in nbs.code_to_run(nbs.merge_submission(student, release))]
    assert labels == ["answer", "check"]


def test_magics_and_shell_escapes_are_neutralised():
    source = "x = 1\n%timeit x\nif x:\n    !pip install evil\nprint(x)"
    out = nbs.neutralise_magics(source)
    compile(out, "<cell>", "exec")
    assert "pip install evil" not in out.replace("# neutralised: !pip install evil", "")
    assert out.splitlines()[3].startswith("    pass")
    assert nbs.neutralise_magics("%%bash\nrm -rf /") is None
