"""The graded program (autograder/program.py): what Jupyter would run top to bottom, locked cells from the
release, never a stub after the student's code, and needs review where finding the answer leaves doubt.

Pure tests on small notebooks; tests/test_variants.py grades the real weeks' variants in the sandbox."""

from __future__ import annotations

import copy

import nbformat
import pytest

from autograder.program import build_program, defined_names, normalised

STUB_F = "def f():\n    # YOUR CODE HERE\n    raise NotImplementedError()"
STUB_G = "def g(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
F = "def f():\n    return 1"
G = "def g(x):\n    return 2 * x"


def _cell(source: str = "", **flags) -> nbformat.NotebookNode:
    meta = {"nbgrader": {"schema_version": 3, "grade": False, "solution": False, "locked": False, **flags}}
    return nbformat.v4.new_code_cell(source, metadata=meta)


def _plain(source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(source)


def _release() -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title"),
        _cell("import math", locked=True, grade_id="setup"),
        _cell(STUB_F, solution=True, grade_id="answer-f"),
        _cell("assert f() == 1", grade=True, locked=True, points=0, grade_id="check-f"),
        _cell(STUB_G, solution=True, grade_id="answer-g"),
        _cell("assert g(2) == 4", grade=True, locked=True, points=0, grade_id="check-g"),
    ])


def _reference() -> nbformat.NotebookNode:
    nb = copy.deepcopy(_release())
    nb.cells[2].source, nb.cells[4].source = F, G
    return nb


def _stripped(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    return nb


def _sources(program) -> list[str]:
    return [c.source for c in program.cells]


def _runs(program) -> dict:
    """The namespace after running the program the way the runner does (cells in order, errors recorded)."""
    namespace: dict = {}
    for cell in program.code_cells():
        try:
            exec(compile(cell.source, cell.label, "exec"), namespace)  # noqa: S102 - our own test code
        except Exception:  # noqa: BLE001, S110 - a failing check cell, as in a notebook
            pass
    return namespace


def _correct(program) -> bool:
    namespace = _runs(program)
    try:
        return namespace["f"]() == 1 and namespace["g"](2) == 4
    except Exception:  # noqa: BLE001
        return False


def test_the_reference_is_its_own_cells_in_order():
    program = build_program(_reference(), _release())
    assert _sources(program) == ["import math", F, "assert f() == 1", G, "assert g(2) == 4"]
    assert [c.label for c in program.cells] == ["setup", "answer-f", "check-f", "answer-g", "check-g"]
    assert [c.public_check for c in program.cells] == [False, False, True, False, True]
    assert program.review == [] and program.tampered == []
    assert set(program.matches.values()) == {"grade_id"}


def test_locked_cells_come_from_the_release_edited_and_deleted_ones_are_restored_in_place():
    student = _reference()
    student.cells[1].source = "import os; os.system('rm -rf /')"   # an edited locked cell
    student.cells.insert(3, _plain("helper = 2"))                    # the student's own cell
    del student.cells[6]                                              # check-g, deleted
    program = build_program(student, _release())
    assert _sources(program) == ["import math", F, "helper = 2", "assert f() == 1", G, "assert g(2) == 4"]
    assert program.tampered == ["setup: modified", "check-g: deleted"]
    assert program.matches["check-g"] == "restored" and program.review == []
    assert [c.from_release for c in program.cells] == [True, False, False, True, False, True]


def test_a_deleted_locked_cell_follows_the_student_cell_of_the_release_cell_before_it():
    student = _reference()
    student.cells[2:3] = [_plain("print('working')"), student.cells[2]]  # the answer moved down one cell
    del student.cells[1]                                                    # setup deleted: goes to the start
    del student.cells[3]                                                    # check-f: after the answer
    program = build_program(student, _release())
    assert _sources(program)[:4] == ["import math", "print('working')", F, "assert f() == 1"]
    assert program.tampered == ["setup: deleted", "check-f: deleted"]


def test_metadata_stripped_everywhere_runs_the_notebook_as_written():
    program = build_program(_stripped(_reference()), _release())
    assert _sources(program) == _sources(build_program(_reference(), _release()))
    assert program.review == [] and program.tampered == []
    assert program.matches == {"setup": "content", "check-f": "content", "check-g": "content",
                               "answer-f": "names", "answer-g": "names"}
    assert _correct(program)


def test_a_deleted_answer_cell_is_never_replaced_by_its_stub_and_needs_review():
    student = _reference()
    del student.cells[2]
    program = build_program(student, _release())
    assert not any("NotImplementedError" in s for s in _sources(program))
    assert program.review == ["answer cell answer-f is missing and no cell of the notebook defines `f`"]
    assert program.matches["answer-f"] == "missing"
    assert "f" not in _runs(program) and _runs(program)["g"](2) == 4


@pytest.mark.parametrize("strip", [False, True])
def test_a_blank_notebook_is_unanswered_not_missing(strip: bool):
    release = _release()
    program = build_program(_stripped(release) if strip else release, release)
    assert program.review == [] and {program.matches["answer-f"], program.matches["answer-g"]} == {"unanswered"}
    assert sum("NotImplementedError" in s for s in _sources(program)) == 2  # the student's own stubs, as saved


def test_a_duplicated_stub_with_the_answer_in_the_copy_below():
    student = _release()
    copy_below = copy.deepcopy(student.cells[2])   # Jupyter's copy keeps the grade id
    copy_below.source = F
    student.cells.insert(3, copy_below)
    student.cells[5].source = G
    program = build_program(student, _release())
    assert program.review == [] and program.matches["answer-f"] == "names" and _correct(program)


def test_a_stub_left_below_the_students_own_definition_never_replaces_it():
    student = _release()
    student.cells.insert(2, _plain(F))                # retyped above the untouched stub
    student.cells[5].source = G
    program = build_program(student, _release())
    assert STUB_F not in _sources(program) and program.review == [] and _correct(program)


@pytest.mark.parametrize("where", ["first answer cell", "fresh cell at the end"])
def test_all_answers_merged_into_one_cell(where: str):
    student = _release()
    merged = F + "\n\n\n" + G
    if where == "first answer cell":
        student.cells[2].source = merged
        del student.cells[4]
    else:
        del student.cells[4], student.cells[2]
        student.cells.append(_plain(merged))
    program = build_program(student, _release())
    assert program.review == [] and _correct(program)
    assert not any("NotImplementedError" in s for s in _sources(program))


def test_an_answer_retyped_in_a_fresh_cell_with_the_stub_deleted():
    student = _reference()
    student.cells[2] = _plain("import functools\n\n" + F)
    program = build_program(student, _release())
    assert program.review == [] and program.matches["answer-f"] == "names" and _correct(program)


def test_an_intact_answer_cell_redefined_later_is_the_top_to_bottom_program_without_review():
    """The answer cell is known by its grade id: a later redefinition is part of what Jupyter runs, no doubt."""
    student = _reference()
    student.cells.append(_plain("def f():\n    return 99"))
    program = build_program(student, _release())
    assert program.review == [] and _runs(program)["f"]() == 99


def test_two_different_definitions_of_a_lost_answer_need_review_naming_function_and_cells():
    student = _stripped(_reference())
    student.cells.append(_plain("def f():\n    return 2"))
    program = build_program(student, _release())
    assert program.review == ["`f` (answer cell answer-f) is defined in different cells (cell 3 and cell 7); "
                              "the score is that of the last one, which a top-to-bottom run uses"]
    assert _runs(program)["f"]() == 2  # the score is still that of the top-to-bottom program


def test_a_function_defined_only_in_a_cell_pasted_twice_needs_review():
    student = _reference()
    student.cells.insert(3, copy.deepcopy(student.cells[2]))  # the answer cell, grade id and all, twice
    program = build_program(student, _release())
    assert program.review == ["`f` (answer cell answer-f) is defined only in a cell pasted more than once "
                              "(cell 3 and cell 4)"]
    assert _correct(program)


def test_skip_grading_comes_from_the_release_for_release_cells():
    release = _release()
    release.cells.insert(3, _plain("slow_demo()"))
    release.cells[3].metadata["tags"] = ["skip-grading"]
    student = _stripped(copy.deepcopy(release))           # tags and metadata lost: found by content
    student.cells[5].metadata["tags"] = ["skip-grading"]   # a student trying to skip check-f
    program = build_program(student, release)
    assert "slow_demo()" not in _sources(program) and "assert f() == 1" in _sources(program)


def test_an_answer_stub_without_names_is_found_by_position():
    release = _release()
    release.cells.insert(4, _cell("# YOUR CODE HERE\nraise NotImplementedError()", solution=True, grade_id="free"))
    student = _stripped(_reference())
    student.cells.insert(4, _plain("result = f() + 1"))
    program = build_program(student, release)
    assert program.matches["free"] == "position" and program.review == []
    del student.cells[4]
    assert build_program(student, release).review == [
        "answer cell free is missing and no cell of the notebook stands in its place"]


def test_names_of_cells_with_ipython_syntax():
    assert defined_names("%%time\ndef f():\n    return 1") == {"f"}
    assert defined_names("%matplotlib inline\nx = 1\ndef f():\n    return x") == {"x", "f"}
    assert defined_names("%%writefile out.py\ndef f():\n    pass") == set()
    assert defined_names("import numpy as np\nclass A: pass\nif True:\n    B = 1\na, (b, c) = 1, (2, 3)") == \
        {"A", "B", "a", "b", "c"}
    assert defined_names("def broken(:") == set()


def test_windows_line_endings_match_and_run():
    student = _reference()
    for cell in student.cells:
        cell.source = cell.source.replace("\n", "\r\n") + "  \r\n"
    program = build_program(_stripped(student), _release())
    assert program.review == [] and program.tampered == [] and _correct(program)
    assert all("\r" not in s for s in _sources(program))
    assert normalised("a  \r\nb\r\n\r\n") == "a\nb"


def test_a_hostile_cell_has_no_names_and_does_not_stop_the_build():
    assert defined_names("-" * 200_000 + "1") == set() and defined_names("(" * 100_000) == set()
    student = _reference()
    student.cells.append(_plain("-" * 200_000 + "1"))
    assert build_program(student, _release()).review == []


def test_away_from_the_course_check_finds_edits_by_the_release_checksums():
    from nbgrader.utils import compute_checksum

    from autograder.program import program_without_release

    student = _reference()
    for cell in student.cells[1:]:
        cell.metadata.nbgrader["checksum"] = compute_checksum(cell)
    student.cells[3].source = "assert True"
    program = program_without_release(student)
    assert program.tampered == ["check-f: modified"] and "assert True" in _sources(program)
