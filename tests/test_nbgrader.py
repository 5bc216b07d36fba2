"""An nbgrader course as it is: imported, released, validated and graded; and nbgrader itself as the oracle.

The two assignments in tests/fixtures/nbgrader_course use every construct of nbgrader's user-guide examples:
solution regions, asserts in test cells, a test cell that deletes and restores a global, try/except checks for
raised errors, hidden test blocks, fractional points, manually graded markdown and code answers, a task cell.
Student variants (correct, partly correct, raising, wrong types, blank) are graded by ``nbgrader autograde``
(nbgrader 0.9.6, in its own copy of the course) and by ``autograder grade``; the autograded scores must agree
cell by cell, and every manually graded cell must be pending review on our side (nbgrader leaves its score
empty).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from autograder.config import load_course
from autograder.errors import AuthoringError
from autograder.harness import run_checks_inprocess, submission_program
from autograder.nbgrader_import import import_nbgrader
from autograder.notebooks import grade_id, read_notebook
from autograder.release import release
from autograder.validate import validate

from .conftest import FIXTURES, cli

COURSE = FIXTURES / "nbgrader_course"
NOTEBOOK = {"ps1": "problem1.ipynb", "hw-2": "stats.ipynb"}
MANUAL = {"ps1": {"part_b_answer"}, "hw-2": {"describe", "plot_task"}}

# Each variant: the student's text for answer cells (by grade id); answers not named keep the release stub.
VARIANTS: dict[str, dict[str, dict[str, str]]] = {
    "ps1": {
        "correct": {
            "squares": "def squares(n):\n    if n < 1:\n        raise ValueError('n < 1')\n"
                       "    return [i ** 2 for i in range(1, n + 1)]",
            "sum_of_squares": "def sum_of_squares(n):\n    return sum(squares(n))",
            "part_b_answer": "$\\frac{n(n+1)(2n+1)}{6}$",
        },
        "partly": {  # right values, but sum_of_squares does not use squares, and no error for n < 1
            "squares": "def squares(n):\n    return [i ** 2 for i in range(1, n + 1)]",
            "sum_of_squares": "def sum_of_squares(n):\n    return sum(i * i for i in range(1, n + 1))",
        },
        "raising": {  # its own error class derived from ValueError; the sum divides by zero
            "squares": "class BadN(ValueError):\n    pass\n\ndef squares(n):\n    if n < 1:\n        raise BadN(n)\n"
                       "    return [i ** 2 for i in range(1, n + 1)]",
            "sum_of_squares": "def sum_of_squares(n):\n    return sum(squares(n)) // 0",
        },
        "wrongtypes": {  # a tuple instead of a list; a string instead of a number
            "squares": "def squares(n):\n    if n < 1:\n        raise ValueError(n)\n"
                       "    return tuple(i ** 2 for i in range(1, n + 1))",
            "sum_of_squares": "def sum_of_squares(n):\n    return str(sum(squares(n)))",
        },
        "blank": {},
    },
    "hw-2": {
        "correct": {
            "mean": "def mean(xs):\n    if not xs:\n        raise ValueError('empty')\n    return sum(xs) / len(xs)",
            "shares": "def shares(xs):\n    total = sum(xs)\n    return [x / total for x in xs]",
            "describe": "def describe(xs):\n    return f'{len(xs)} values'",
        },
        "partly": {  # an empty list divides by zero (not ValueError); shares depends on mean
            "mean": "def mean(xs):\n    return sum(xs) / len(xs)",
            "shares": "def shares(xs):\n    m = mean(xs)\n    return [x / (m * len(xs)) for x in xs]",
        },
        "raising": {
            "mean": "def mean(xs):\n    raise RuntimeError('not today')",
            "shares": "def shares(xs):\n    return [x / 0 for x in xs]",
        },
        "wrongtypes": {  # mean as text, shares as a tuple of the right fractions
            "mean": "def mean(xs):\n    if not xs:\n        raise ValueError()\n    return str(sum(xs) / len(xs))",
            "shares": "def shares(xs):\n    return tuple(x / sum(xs) for x in xs)",
        },
        "blank": {},
    },
}


def _variant(released: Path, answers: dict[str, str]) -> nbformat.NotebookNode:
    nb = copy.deepcopy(read_notebook(released))
    for cell in nb.cells:
        if grade_id(cell) in answers:
            cell.source = answers[grade_id(cell)]
    return nb


def _submit(root: Path, released: dict[str, Path]) -> None:
    for assignment, variants in VARIANTS.items():
        for student, answers in variants.items():
            folder = root / "submitted" / student / assignment
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(_variant(released[assignment], answers), folder / NOTEBOOK[assignment])
            (folder / "timestamp.txt").write_text("2026-09-30 12:00:00.000000 UTC")


def _nbgrader(root: Path, *args: str) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}  # (alembic)
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]


def _nbgrader_scores(root: Path) -> dict[tuple[str, str, str], float | None]:
    """nbgrader's automatic score per grade cell; None for a manually graded one (nbgrader leaves it empty, or
    gives 0 to an answer left as released: both wait for a person on our side)."""
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        for assignment, variants in VARIANTS.items():
            for student in variants:
                nb = gradebook.find_submission_notebook(Path(NOTEBOOK[assignment]).stem, assignment, student)
                for grade in nb.grades:
                    manual = grade.cell.cell_type == "markdown" or grade.name in MANUAL[assignment]
                    scores[(assignment, student, grade.name)] = None if manual else grade.auto_score
    return scores


def _our_scores(root: Path) -> dict[tuple[str, str, str], float | None]:
    scores = {}
    for path in (root / "autograded").glob("*/*/result.json"):
        result = json.loads(path.read_text())
        for test in result["tests"]:
            name = test["test_id"].split("::")[-1]
            scores[(result["assignment"], result["student"], name)] = \
                None if test["pending"] else (test["points"] if test["passed"] else 0.0)
    return scores


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The fixture course imported, released and graded by us; a second copy graded by nbgrader."""
    ours = tmp_path_factory.mktemp("ours") / "course"
    theirs = tmp_path_factory.mktemp("nbgrader") / "course"
    shutil.copytree(COURSE, ours)
    shutil.copytree(COURSE, theirs)
    assert cli("import-nbgrader", ".", cwd=ours).returncode == 0
    release(load_course(ours / "course.yml"))
    released = {a: ours / "release" / a / NOTEBOOK[a] for a in VARIANTS}
    _submit(ours, released)
    _submit(theirs, released)

    def by_nbgrader() -> None:
        _nbgrader(theirs, "db", "assignment", "add", "ps1", "--duedate=2026-10-01 17:00:00 UTC")
        for assignment in VARIANTS:
            _nbgrader(theirs, "generate_assignment", assignment, "--force")
            _nbgrader(theirs, "autograde", assignment)

    with ThreadPoolExecutor(max_workers=1) as pool:  # nbgrader and we grade at the same time
        theirs_done = pool.submit(by_nbgrader)
        for assignment in VARIANTS:
            ran = cli("grade", assignment, cwd=ours)
            assert ran.returncode == 0, ran.stdout + ran.stderr
        theirs_done.result()
    return {"ours": ours, "theirs": theirs}


def test_autograded_scores_agree_with_nbgrader_cell_by_cell(graded: dict[str, Path]):
    theirs, ours = _nbgrader_scores(graded["theirs"]), _our_scores(graded["ours"])
    assert set(theirs) == set(ours)
    disagree = {key: (theirs[key], ours[key]) for key in theirs if theirs[key] != ours[key]}
    assert not disagree
    # the variants do tell the cells apart: every test cell both passes and fails somewhere
    for assignment in VARIANTS:
        cells = {k[2] for k in ours if k[0] == assignment and ours[k] is not None}
        for cell in cells:
            results = {ours[k] for k in ours if k[0] == assignment and k[2] == cell}
            assert len(results) == 2, (assignment, cell, results)


def test_manual_parts_are_pending_review_and_count_in_the_maximum(graded: dict[str, Path]):
    result = json.loads((graded["ours"] / "autograded" / "correct" / "hw-2" / "result.json").read_text())
    pending = {t["name"]: t["points"] for t in result["tests"] if t["pending"]}
    assert pending == {"describe": 1.0, "plot_task": 1.0}
    assert result["max_score"] == 5.0 and result["score"] == 3.0
    feedback = (graded["ours"] / "feedback" / "correct" / "hw-2" / "feedback.md").read_text()
    assert "2 of the 5 points are pending manual review" in feedback
    assert "| describe | – / 1 | pending manual review |" in feedback.replace("code answer describe (stats.ipynb)",
                                                                              "describe")


def test_import_release_and_validate(graded: dict[str, Path]):
    course = load_course(graded["ours"] / "course.yml")
    assert [a.id for a in course.assignments] == ["ps1", "hw-2"]
    assert course.assignment("ps1").due.isoformat() == "2026-10-01"
    verdicts = validate(course, jobs=1)
    assert all(v.ok for v in verdicts), [v.problems for v in verdicts]
    by_kind = {(v.assignment, v.kind): v for v in verdicts}
    assert by_kind[("ps1", "reference")].got == 3.0 and by_kind[("ps1", "reference")].pending == 2.0
    assert by_kind[("hw-2", "reference")].got == 3.0 and by_kind[("hw-2", "blank")].got == 0.0


def test_hidden_tests_are_neither_released_nor_sent_to_the_sandbox(graded: dict[str, Path]):
    root = graded["ours"]
    course = load_course(root / "course.yml")
    for assignment in VARIANTS:
        released = (root / "release" / assignment / NOTEBOOK[assignment]).read_text()
        assert "HIDDEN TESTS" not in released and "sum_of_squares(10) == 385" not in released
        nb = read_notebook(root / "submitted" / "correct" / assignment / NOTEBOOK[assignment])
        program = submission_program(course, course.assignment(assignment), [nb])
        sandbox_text = "\n".join(cell.source for cell in program.code_cells())
        assert "assert" not in sandbox_text and "HIDDEN" not in sandbox_text
        assert not program.tampered and not program.review


def _with_test_cell(root: Path, source: str, sandbox: bool = False) -> Path:
    path = root / "source" / "ps1" / "problem1.ipynb"
    nb = read_notebook(path)
    cell = next(c for c in nb.cells if grade_id(c) == "correct_sum_of_squares")
    cell.source = source
    if sandbox:
        cell.metadata["autograder"] = {"run_in_sandbox": True}
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize(("source", "reason"), [
    ("assert sum_of_squares.__name__ == 'sum_of_squares'", "`__name__` of the submission's objects"),
    ("assert sum_of_squares(lambda: 3) == 3", "passes a function of the test cell"),
    ("%time sum_of_squares(2)", "not plain Python"),
    ("squares.cache = {}", "changes an object of the submission in place"),
])
def test_release_names_test_cells_the_protocol_cannot_carry(tmp_path: Path, source: str, reason: str):
    root = tmp_path / "course"
    shutil.copytree(COURSE, root)
    import_nbgrader(root)
    _with_test_cell(root, "x = 1\n" + source)
    with pytest.raises(AuthoringError) as info:
        release(load_course(root / "course.yml"), ["ps1"])
    message = str(info.value)
    assert "test cell correct_sum_of_squares, line 2" in message and reason in message
    assert "run_in_sandbox" in message


def test_a_test_cell_marked_for_the_sandbox_runs_there_and_is_labelled_forgeable(tmp_path: Path):
    root = tmp_path / "course"
    shutil.copytree(COURSE, root)
    import_nbgrader(root)
    _with_test_cell(root, "assert sum_of_squares.__name__ == 'sum_of_squares'\nassert sum_of_squares(2) == 5",
                    sandbox=True)
    course = load_course(root / "course.yml")
    release(course, ["ps1"])
    ps1 = course.assignment("ps1")
    reference = run_checks_inprocess(course, ps1, [root / "solutions" / "ps1" / "problem1.ipynb"])
    blank = run_checks_inprocess(course, ps1, [root / "release" / "ps1" / "problem1.ipynb"])
    assert (reference.score, blank.score, reference.max_score) == (3.0, 0.0, 5.0)
    assert [t.name for t in reference.tests if t.forgeable] == ["correct_sum_of_squares"]


def test_import_reads_nbgrader_gradebook_and_keeps_it(graded: dict[str, Path], tmp_path: Path):
    """A course directory where nbgrader already ran: due dates and students come from its gradebook.db, which
    stays nbgrader's; our results go to another file."""
    root = tmp_path / "course"
    shutil.copytree(graded["theirs"], root, ignore=shutil.ignore_patterns("autograded", "release", "feedback"))
    before = (root / "gradebook.db").read_bytes()
    (root / "nbgrader_config.py").write_text("c = get_config()  # noqa: F821\n")  # only the gradebook knows
    target, notes = import_nbgrader(root)
    course = load_course(target)
    assert course.gradebook == "autograder.db" and (root / "gradebook.db").read_bytes() == before
    assert course.assignment("ps1").due.isoformat() == "2026-10-01"
    assert any("nbgrader knows 5 student(s)" in note for note in notes)
    with pytest.raises(Exception, match="already exists"):
        import_nbgrader(root)
