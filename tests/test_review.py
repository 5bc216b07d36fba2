"""The manual-review round trip: nbgrader's manually graded answers exported, filled in, imported, and seen.

The course is the nbgrader fixture (tests/fixtures/nbgrader_course): ps1 has a manually graded markdown answer
(part_b_answer, 2 points), hw-2 a manually graded code answer (describe, 1 point) and a task (plot_task, 1 point).
It is graded once in the sandbox; each test works on its own copy of the graded course.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from autograder import review
from autograder.config import load_course
from autograder.errors import UserError
from autograder.notebooks import grade_id, read_notebook
from autograder.release import release
from autograder.store import Store

from .conftest import FIXTURES, cli

NOTEBOOK = {"ps1": "problem1.ipynb", "hw-2": "stats.ipynb"}
MARKDOWN = "- the sum is $\\frac{n(n+1)(2n+1)}{6}$\n- proved by induction, é 한국어"  # a list: starts like a formula
DESCRIBE = "def describe(xs):\n    return f'{len(xs)} values'"
CODE = {"squares": "def squares(n):\n    if n < 1:\n        raise ValueError('n < 1')\n"
                   "    return [i ** 2 for i in range(1, n + 1)]",
        "sum_of_squares": "def sum_of_squares(n):\n    return sum(squares(n))"}
TASK = "The shares grow with the value: 0.1, 0.2, 0.3, 0.4.\n\nSee the plot."
# ps1 is due 2026-10-01 17:00 UTC; carol hands in two days late (10 % of the maximum per day)
ON_TIME, LATE = "2026-09-30 12:00:00.000000 UTC", "2026-10-03 12:00:00.000000 UTC"
USER = {"AUTOGRADER_USER": "prof-x"}


def _answered(released: Path, answers: dict[str, str], task: str | None = None) -> nbformat.NotebookNode:
    nb = copy.deepcopy(read_notebook(released))
    for cell in nb.cells:
        if grade_id(cell) in answers:
            cell.source = answers[grade_id(cell)]
    if task is not None:  # the student's work for a task goes in a new cell below it
        at = next(i for i, c in enumerate(nb.cells) if grade_id(c) == "plot_task")
        nb.cells.insert(at + 1, nbformat.v4.new_markdown_cell(task))
    return nb


def _submit(root: Path, student: str, assignment: str, nb: nbformat.NotebookNode, when: str = ON_TIME) -> None:
    folder = root / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / NOTEBOOK[assignment])
    (folder / "timestamp.txt").write_text(when)


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("review") / "course"
    shutil.copytree(FIXTURES / "nbgrader_course", root)
    assert cli("import-nbgrader", ".", cwd=root).returncode == 0
    data = yaml.safe_load((root / "course.yml").read_text())
    data["late"] = {"penalty": "percent", "percent": 10, "per": "day"}
    (root / "course.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    release(load_course(root / "course.yml"))
    released = {a: root / "release" / a / NOTEBOOK[a] for a in NOTEBOOK}
    _submit(root, "alice", "ps1", _answered(released["ps1"], {**CODE, "part_b_answer": MARKDOWN}))
    _submit(root, "bob", "ps1", _answered(released["ps1"], {}))
    _submit(root, "carol", "ps1", _answered(released["ps1"], {"part_b_answer": "n^3/3"}), LATE)
    _submit(root, "alice", "hw-2", _answered(released["hw-2"], {"describe": DESCRIBE}, TASK))
    for assignment in NOTEBOOK:
        ran = cli("grade", assignment, cwd=root)
        assert ran.returncode == 0, ran.stdout + ran.stderr
    return root


@pytest.fixture
def course(graded_course: Path, tmp_path: Path) -> Path:
    root = tmp_path / "course"
    shutil.copytree(graded_course, root)
    return root


def _rows(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the file as UTF-8
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text("\ufeff" + buffer.getvalue(), encoding="utf-8", newline="")
    return path


def _export(root: Path, assignment: str, include_reviewed: bool = False) -> list[dict[str, str]]:
    course = load_course(root / "course.yml")
    review.export(course, course.assignment(assignment), root / "reviews.csv", include_reviewed)
    return _rows(root / "reviews.csv")


def _import(root: Path, assignment: str, path: Path, grader: str = "prof-x") -> list[str]:
    course = load_course(root / "course.yml")
    return review.import_file(course, course.assignment(assignment), path, grader)


def _fill(rows: list[dict[str, str]], scores: dict[tuple[str, str], tuple[str, str]]) -> list[dict[str, str]]:
    for row in rows:
        row["points"], row["comment"] = scores.get((row["student"], row["grade_id"]), ("", ""))
    return rows


def _nbgrader_scores(root: Path, assignment: str) -> dict[str, tuple[str, str, str]]:
    from autograder.exports import export

    course = load_course(root / "course.yml")
    export(course, course.assignment(assignment), "nbgrader", root / "nb.csv")
    with open(root / "nb.csv", newline="") as handle:
        return {r["student_id"]: (r["raw_score"], r["late_submission_penalty"], r["score"])
                for r in csv.DictReader(handle)}


def test_export_lists_each_pending_answer_as_graded_for_a_spreadsheet(course: Path):
    rows = _export(course, "ps1")
    assert [(r["student"], r["grade_id"], r["max_points"], r["points"], r["status"]) for r in rows] == [
        ("alice", "part_b_answer", "2", "", "pending"), ("bob", "part_b_answer", "2", "", "pending"),
        ("carol", "part_b_answer", "2", "", "pending")]
    alice = rows[0]
    assert alice["answer"] == "'" + MARKDOWN  # the student's text, newlines kept; a leading - is not a formula
    assert alice["heading"] == "Part B (2 points)" and alice["notebook"] == "problem1.ipynb"
    assert rows[1]["answer"] == "YOUR ANSWER HERE"  # bob left the release's stub
    page = (course / "reviews.html").read_text()
    assert "é 한국어" in page and "&lt;" not in MARKDOWN and "row 2" in page
    hw2 = {r["grade_id"]: r for r in _export(course, "hw-2")}
    assert hw2["describe"]["answer"] == DESCRIBE and hw2["plot_task"]["answer"] == TASK  # code answer; task's work
    assert hw2["plot_task"]["heading"] == "Task"


def _export_all(root: Path, assignment: str, format: str, output: str) -> Path:
    from autograder.exports import export

    course = load_course(root / "course.yml")
    export(course, course.assignment(assignment), format, root / output)
    return root / output


def test_round_trip_changes_every_export_and_the_feedback_and_is_audited(course: Path):
    assert _nbgrader_scores(course, "ps1")["alice"] == ("3.0", "0.0", "3.0")
    rows = _fill(_export(course, "ps1"), {("alice", "part_b_answer"): ("1.5", "Right formula; say why it holds."),
                                          ("carol", "part_b_answer"): ("2", "")})
    ran = cli("review", "ps1", "--import", str(_write(course / "reviews.csv", rows)), cwd=course, env=USER)
    assert ran.returncode == 0, ran.stderr
    assert "recorded 2 review(s) of 2 student(s) by prof-x" in ran.stdout and "1 row(s) left blank" in ran.stdout
    scores = _nbgrader_scores(course, "ps1")
    assert scores["alice"] == ("4.5", "0.0", "4.5") and scores["bob"] == ("0.0", "0.0", "0.0")
    # carol is two days late: 20 % of 5 points, once her raw score (0 + 2 reviewed) has something to deduct from
    assert scores["carol"] == ("2.0", "1.0", "1.0")
    with open(_export_all(course, "ps1", "csv", "all.csv"), newline="") as handle:
        alice = next(r for r in csv.DictReader(handle) if r["student"] == "alice")
    assert alice["score"] == "4.5" and alice["part_b_answer"] == "1.5"
    assert "alice,,alice,,4.5" in _export_all(course, "ps1", "canvas", "canvas.csv").read_text()
    gs = json.loads((_export_all(course, "ps1", "gradescope", "gs") / "alice" / "results.json").read_text())
    part = next(t for t in gs["tests"] if "part_b_answer" in t["name"])
    assert gs["score"] == 4.5 and part["score"] == 1.5 and "Right formula" in part["output"]
    feedback = (course / "feedback" / "alice" / "ps1" / "feedback.md").read_text()
    assert "Score: 4.5 / 5" in feedback and "1.5 / 2 | graded by the course staff: Right formula" in feedback
    assert "pending manual review" not in feedback
    page = (course / "feedback" / "alice" / "ps1" / "feedback.html").read_text()
    assert "Right formula; say why it holds." in page and "pending manual review" not in page
    assert "pending manual review" in (course / "feedback" / "bob" / "ps1" / "feedback.html").read_text()
    assert json.loads((course / "autograded" / "alice" / "ps1" / "result.json").read_text())["final_score"] == 4.5
    from autograder.dashboard import write_gradebook, write_report

    c = load_course(course / "course.yml")
    assert 'id="stat-pending">1</b>' in write_report(c, c.assignment("ps1")).read_text()
    assert "alice,4.5," in write_gradebook(c)[0].read_text()
    with Store(course / "gradebook.db") as store:
        trail = store.reviews("ps1")
    assert [(t["student"], t["points"], t["comment"], t["author"]) for t in trail] == [
        ("alice", 1.5, "Right formula; say why it holds.", "prof-x"), ("carol", 2.0, "", "prof-x")]
    assert trail[0]["at"].startswith("20") and trail[0]["source"].endswith("reviews.csv")
    summary = cli("review", "ps1", cwd=course)
    assert "3 manually graded answer(s) of 3 student(s): 2 reviewed, 1 pending" in summary.stdout
    assert "reviewed by prof-x (2)" in summary.stdout and "waiting: bob" in summary.stdout


def test_reimport_updates_and_an_unchanged_file_adds_nothing(course: Path):
    path = _write(course / "reviews.csv", _fill(_export(course, "ps1"), {("alice", "part_b_answer"): ("2", "good")}))
    _import(course, "ps1", path)
    assert "recorded 0 review(s)" in _import(course, "ps1", path)[0]
    rows = _fill(_export(course, "ps1", include_reviewed=True),
                 {("alice", "part_b_answer"): ("0.5", "on second reading")})
    assert rows[0]["status"].startswith("reviewed by prof-x") and len(rows) == 3
    assert "by TA Kim" in _import(course, "ps1", _write(course / "reviews.csv", rows), "TA Kim")[0]
    assert _nbgrader_scores(course, "ps1")["alice"][2] == "3.5"
    with Store(course / "gradebook.db") as store:
        assert [(t["points"], t["author"]) for t in store.reviews("ps1")] == [(2.0, "prof-x"), (0.5, "TA Kim")]


BAD = [
    (lambda rows: rows[0].update(student="zoe"), "row 2: no student 'zoe' has a graded submission of ps1"),
    (lambda rows: rows[0].update(grade_id="part_c"), "row 2: alice's latest submission of ps1 has no manually "
                                                     "graded part 'part_c'"),
    (lambda rows: rows[1].update(points="3"), "row 3: points 3 for bob's part_b_answer are outside 0 to 2"),
    (lambda rows: rows[1].update(points="-1"), "row 3: points -1 for bob's part_b_answer are outside 0 to 2"),
    (lambda rows: rows[1].update(points="two"), "row 3: points 'two' for bob's part_b_answer is not a number"),
    (lambda rows: rows[1].update(points="nan"), "row 3: points 'nan' for bob's part_b_answer is not a number"),
    (lambda rows: rows.append(dict(rows[0])), "row 5 repeats row 2"),
    (lambda rows: rows[2].update(assignment="hw-2"), "row 4 is for assignment 'hw-2', not ps1"),
    (lambda rows: rows[2].update(points="", comment="see me"), "row 4: a comment but no points"),
    (lambda rows: rows[2].update(answer_id="sha-0123456789ab"),
     "row 4: carol's answer to part_b_answer is not the one"),
]


def test_each_bad_row_is_one_sentence_naming_file_and_row_and_nothing_is_recorded(course: Path):
    before = _nbgrader_scores(course, "ps1")
    exported = _export(course, "ps1")
    for spoil, sentence in BAD:
        rows = _fill(copy.deepcopy(exported), {("alice", "part_b_answer"): ("1", "ok"), ("bob", "part_b_answer"):
                                               ("1", ""), ("carol", "part_b_answer"): ("1", "")})
        spoil(rows)
        path = _write(course / "reviews.csv", rows)
        with pytest.raises(UserError) as caught:
            _import(course, "ps1", path)
        lines = str(caught.value).splitlines()
        assert lines[0].startswith("nothing recorded") and len(lines) == 2, lines
        assert lines[1].startswith(f"{path}: {sentence}") and lines[1].endswith("."), lines
    assert _nbgrader_scores(course, "ps1") == before
    with Store(course / "gradebook.db") as store:
        assert store.reviews("ps1") == []
    rows = _fill(copy.deepcopy(exported), {("alice", "part_b_answer"): ("9", ""), ("bob", "part_b_answer"): ("x", "")})
    ran = cli("review", "ps1", "--import", str(_write(course / "reviews.csv", rows)), cwd=course)  # every problem
    assert ran.returncode == 2 and "Traceback" not in ran.stderr and ran.stderr.count("reviews.csv: row") == 2


@pytest.mark.parametrize(("content", "sentence"), [
    (b"student;points\nalice;1\n", "not a review file of `autograder review --export`: no column notebook"),
    ("student,notebook,grade_id,points,comment,assignment,answer_id\nJosé,a,b,1,,ps1,x\n".encode("cp1252"),
     "not UTF-8 text: save it as 'CSV UTF-8'"),
])
def test_a_file_that_is_not_a_review_file_is_one_sentence(course: Path, content: bytes, sentence: str):
    (course / "bad.csv").write_bytes(content)
    with pytest.raises(UserError, match="bad.csv: " + sentence.replace("(", r"\(")):
        _import(course, "ps1", course / "bad.csv")


def test_excel_semicolons_and_decimal_commas_are_read(course: Path):
    rows = _fill(_export(course, "ps1"), {("alice", "part_b_answer"): ("1,5", "ok")})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), delimiter=";", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    (course / "excel.csv").write_text("\ufeff" + buffer.getvalue(), encoding="utf-8", newline="")
    _import(course, "ps1", course / "excel.csv")
    assert _nbgrader_scores(course, "ps1")["alice"][2] == "4.5"


def test_a_regrade_keeps_the_review_and_a_changed_answer_is_stale(course: Path):
    rows = _fill(_export(course, "hw-2"), {("alice", "describe"): ("1", "clear"), ("alice", "plot_task"):
                                           ("0.5", "no labels")})
    _import(course, "hw-2", _write(course / "r.csv", rows))
    assert _nbgrader_scores(course, "hw-2")["alice"][2] == "1.5"  # its code answers are stubs: 0 + 1 + 0.5
    assert cli("grade", "hw-2", "--regrade", cwd=course).returncode == 0  # the same notebook: the review stays
    assert _nbgrader_scores(course, "hw-2")["alice"][2] == "1.5"
    feedback = (course / "feedback" / "alice" / "hw-2" / "feedback.md").read_text()
    assert "graded by the course staff: no labels" in feedback
    released = course / "release" / "hw-2" / NOTEBOOK["hw-2"]
    _submit(course, "alice", "hw-2", _answered(released, {"describe": DESCRIBE + "  # tidier"}, TASK + " Updated."),
            "2026-10-01 12:00:00.000000 UTC")
    assert cli("grade", "hw-2", cwd=course).returncode == 0
    assert _nbgrader_scores(course, "hw-2")["alice"][2] == "0.0"  # both answers changed: pending again
    rows = _export(course, "hw-2")
    assert {r["grade_id"]: r["status"].split(":")[0] for r in rows} == {"describe": "stale", "plot_task": "stale"}
    assert "the answer changed after prof-x reviewed it" in rows[0]["status"]
    c = load_course(course / "course.yml")
    assert "2 pending (2 of them changed since reviewed)" in review.summary(c, c.assignment("hw-2"))[0]


def test_an_override_decides_the_final_score_over_reviews(course: Path, monkeypatch: pytest.MonkeyPatch):
    from autograder.exports import record_override

    monkeypatch.setenv("AUTOGRADER_USER", "prof-x")
    c = load_course(course / "course.yml")
    record_override(c, c.assignment("ps1"), "alice", 2, "plagiarised part A")
    rows = _fill(_export(course, "ps1"), {("alice", "part_b_answer"): ("2", "fine")})
    lines = _import(course, "ps1", _write(course / "r.csv", rows))
    assert "note: alice has an override (2) that still decides the final score" in lines[1]
    assert _nbgrader_scores(course, "ps1")["alice"] == ("5.0", "0.0", "2.0")  # raw has the review; override wins
    feedback = (course / "feedback" / "alice" / "ps1" / "feedback.md").read_text()
    assert "Score set by the course staff: 2" in feedback and "graded by the course staff: fine" in feedback


def test_summary_and_wrong_options(course: Path):
    c = load_course(course / "course.yml")
    lines = review.summary(c, c.assignment("ps1"))
    assert "0 reviewed, 3 pending" in lines[0] and "waiting: alice, bob, carol" in lines[1]
    with pytest.raises(UserError, match="must be a .csv"):
        review.export(c, c.assignment("ps1"), course / "x.txt")
    ran = cli("review", "ps1", "--export", "a.csv", "--import", "b.csv", cwd=course)
    assert ran.returncode == 2 and "not both" in ran.stderr
