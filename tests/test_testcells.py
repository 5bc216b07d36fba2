"""nbgrader test cells run by trusted code (autograder/testcells.py), against an in-process submission: names
resolved from the notebook, deletions carried and undone, exceptions as built-in types, trusted values kept
trusted, and what the protocol cannot carry found at release time."""

from __future__ import annotations

import pytest

from autograder.notebooks import CodeCell
from autograder.shell import NotebookShell
from autograder.testcells import CellRun, TestCell, failure_message, uncarriable
from autograder.transports.inprocess import InProcessSubmission, execute_cells

STUDENT = """
class BadN(ValueError):
    pass

def squares(n):
    if n < 1:
        raise BadN(n)
    return [i ** 2 for i in range(1, n + 1)]

def sum_of_squares(n):
    return sum(squares(n))

def peek():
    return expected

expected = None
len = lambda x: 3
"""


@pytest.fixture
def submission() -> InProcessSubmission:
    shell = NotebookShell()
    assert execute_cells([CodeCell("answer", STUDENT)], shell) == []
    return InProcessSubmission(shell.namespace, [])


def run(submission: InProcessSubmission, source: str, imports: str = "") -> None:
    CellRun(submission, TestCell("nb.ipynb", "cell", 1.0, source, False, ""), imports).execute()


def test_asserts_run_against_the_submission(submission: InProcessSubmission):
    run(submission, "assert squares(3) == [1, 4, 9]\nassert sum_of_squares(2) == 5")
    with pytest.raises(AssertionError):
        run(submission, "assert squares(3) == [1, 4, 10]")


def test_deleting_a_global_reaches_the_submission_and_is_undone(submission: InProcessSubmission):
    run(submission, "orig = squares\ndel squares\ntry:\n    sum_of_squares(1)\nexcept NameError:\n    pass\n"
                    "else:\n    raise AssertionError('no NameError')\nfinally:\n    squares = orig")
    run(submission, "del squares")  # not restored by the cell itself: undone when it ends
    assert submission.has("squares")
    run(submission, "assert sum_of_squares(2) == 5")


def test_the_students_exception_is_caught_as_its_builtin_type(submission: InProcessSubmission):
    run(submission, "try:\n    squares(0)\nexcept ValueError:\n    pass\nelse:\n    raise AssertionError")


def test_builtins_are_the_graders_and_trusted_values_stay_trusted(submission: InProcessSubmission):
    run(submission, "assert len(squares(2)) == 2")  # the student's `len` is not used
    run(submission, "expected = [1, 4]\nassert peek() is None")  # `expected` never reaches the student's globals
    assert submission.reference("expected") is None


def test_imports_of_locked_cells_are_the_graders_own(submission: InProcessSubmission):
    run(submission, "assert math.isclose(sum_of_squares(3), 14.0)", imports="import math")


def test_failure_messages_hide_hidden_tests(submission: InProcessSubmission):
    source = "assert squares(1) == [1]\n### BEGIN HIDDEN TESTS\nassert squares(2) == [1, 5], 'secret 5'\n" \
             "### END HIDDEN TESTS"
    cell = TestCell("nb.ipynb", "cell", 1.0, source, False, "")
    with pytest.raises(AssertionError) as info:
        CellRun(submission, cell, "").execute()
    message = failure_message(cell, info.value)
    assert "hidden test" in message and "secret" not in message and "5" not in message


@pytest.mark.parametrize(("source", "line"), [
    ("x = 1\nglobal y", 2), ("squares.cache = {}", 1), ("assert squares.__doc__", 1), ("print(globals())", 1),
    ("def f():\n    return 1\nsquares(f)", 3), ("!ls", 1),
])
def test_what_cannot_cross_is_named_with_its_line(source: str, line: int):
    assert [found[0] for found in uncarriable(source)] == [line]


def test_ordinary_test_cells_are_carriable():
    assert uncarriable("import math\nresult = squares(3)\nassert isinstance(result, list)\n"
                       "orig = squares\ndel squares\ntry:\n    sum_of_squares(1)\nexcept NameError:\n    pass\n"
                       "finally:\n    squares = orig") == []
