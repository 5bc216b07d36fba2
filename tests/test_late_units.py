"""The late policy's arithmetic, submission times and where they come from, the LMS layouts that carry names and
times (Gradescope's export, Blackboard's names), roster matching, and the override's one-sentence refusals."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from autograder.config import LatePolicy, load_course
from autograder.errors import UserError
from autograder.exports import record_override
from autograder.grading import apply_late_policy
from autograder.results import GradeResult, Status
from autograder.roster import Roster, Student
from autograder.submissions import discover

NOTEBOOK = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n'
DAY, HOUR = 86400, 3600
METADATA = """submission_101:
  :submitters:
  - :name: Ana Lopez
    :sid: '111'
    :email: ana@uni.edu
  :created_at: 2026-01-09 10:30:00.123456000 -08:00
  :score: 5.0
submission_102:
  :submitters:
  - :name: Ben Ng
    :sid: '112'
    :email: ben@uni.edu
  :created_at: 2026-01-07 09:00:00.000000000 +00:00
"""


@pytest.mark.parametrize(("policy", "late", "expected"), [
    (LatePolicy(), 10 * DAY, 0.0),                                                       # none: recorded only
    (LatePolicy(penalty="percent", percent=10), 1, 0.6),                                 # a second late: a day
    (LatePolicy(penalty="percent", percent=10), DAY + 1, 1.2),                           # started days count
    (LatePolicy(penalty="percent", percent=10, cap=25), 9 * DAY, 1.5),                   # capped at 25 %
    (LatePolicy(penalty="percent", percent=5, per="hour"), 2 * HOUR + 1, 0.9),           # per hour
    (LatePolicy(penalty="percent", percent=10, grace=900), 900, 0.0),                    # within the grace
    (LatePolicy(penalty="percent", percent=10, grace=900), 901, 0.6),
    (LatePolicy(penalty="zero", grace=600), 601, 5.0),                                   # zero: all of it
    (LatePolicy(penalty="percent", percent=10, cutoff=3 * DAY), 3 * DAY + 1, 5.0),       # after the cut-off
    (LatePolicy(penalty="percent", percent=50), 3 * DAY, 5.0),                           # never below zero
])
def test_the_penalty_is_what_the_policy_says(policy: LatePolicy, late: float, expected: float):
    assert policy.deduction(5.0, 6.0, late) == pytest.approx(expected)


def _course(root: Path, extra: str = ""):  # noqa: ANN202
    text = (root / "course.yml").read_text().replace("due: 2026-01-08", "due: 2026-01-08 17:00" + extra)
    (root / "course.yml").write_text("timezone: America/Los_Angeles\n" + text)
    return load_course(root / "course.yml")


def test_a_due_date_without_an_offset_is_in_the_course_time_zone_and_naive_times_too(toy_root: Path):
    course = _course(toy_root)
    a = course.assignment("week00-toy")
    assert course.due_at(a).isoformat() == "2026-01-08T17:00:00-08:00"
    result = GradeResult("ana", a.id, "h", Status.graded, score=6.0, max_score=6.0)
    apply_late_policy(course, a, result, "2026-01-08T18:30:00", "file name")       # Blackboard: course time
    assert (result.late_seconds, result.submitted_at, result.due_at, result.time_source) == \
        (5400.0, "2026-01-09T02:30:00+00:00", "2026-01-09T01:00:00+00:00", "file name")
    apply_late_policy(course, a, result, "2026-01-09T00:59:00+00:00", "timestamp.txt")
    assert result.late_seconds == 0 and result.penalty == 0


def test_gradescope_exports_give_names_lms_ids_emails_and_times(toy_root: Path):
    course = _course(toy_root)
    folder = toy_root / "gs"
    for sid in ("101", "102", "103"):
        (folder / f"submission_{sid}").mkdir(parents=True)
        (folder / f"submission_{sid}" / "toy.ipynb").write_bytes(NOTEBOOK)
    (folder / "submission_metadata.yml").write_text(METADATA)
    warnings: list[str] = []
    found = {s.student: s for s in discover(course, course.assignment("week00-toy"), folder, warn=warnings.append)}
    assert sorted(found) == ["Ana Lopez", "Ben Ng", "submission_103"] and warnings == []
    ana = found["Ana Lopez"]
    assert (ana.lms, ana.lms_id, ana.email, ana.submitted_at, ana.time_source) == \
        ("gradescope", "111", "ana@uni.edu", "2026-01-09T18:30:00+00:00", "gradescope metadata")
    assert found["submission_103"].time_source == "file modified time"

    archive = toy_root / "gs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("assignment_9_export/submission_metadata.yml", METADATA)
        zf.writestr(zipfile.ZipInfo("assignment_9_export/submission_102/toy.ipynb", (2026, 1, 8, 0, 0, 0)), NOTEBOOK)
    (ben,) = discover(course, course.assignment("week00-toy"), archive, scratch=toy_root / "x", warn=warnings.append)
    assert (ben.student, ben.submitted_at, ben.time_source) == ("Ben Ng", "2026-01-07T09:00:00+00:00",
                                                               "gradescope metadata")
    assert warnings == []


def test_times_come_from_the_zip_entry_before_the_file_name_and_from_the_name_before_the_mtime(toy_root: Path):
    course = _course(toy_root)
    a = course.assignment("week00-toy")
    folder = toy_root / "bb"
    folder.mkdir()
    path = folder / "HW1_jsmith_attempt_2026-01-08-18-30-00_toy.ipynb"
    path.write_bytes(NOTEBOOK)
    os.utime(path, (0, 0))
    (board,) = discover(course, a, folder)
    assert (board.student, board.submitted_at, board.time_source) == ("jsmith", "2026-01-08T18:30:00", "file name")
    archive = toy_root / "bb.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(zipfile.ZipInfo(path.name, (2026, 1, 8, 20, 0, 0)), NOTEBOOK)
    (zipped,) = discover(course, a, archive, scratch=toy_root / "y")
    assert (zipped.submitted_at, zipped.time_source) == ("2026-01-08T20:00:00+00:00", "zip entry time")


def test_the_roster_matches_lms_ids_ids_emails_and_lms_names_case_insensitively():
    roster = Roster([Student("jsmith", "John", "Smith", "John.Smith@uni.edu", "12345"),
                     Student("김민준", "민준", "김", "mk@uni.edu", "777"), Student("ana", "Ana", "Lopez")])
    assert roster.match("anybody", lms_id="12345").id == "jsmith"                      # Canvas user id
    assert roster.match("JSMITH").id == "jsmith"                                       # the id, any case
    assert roster.match("john.smith").id == "jsmith"                                   # e-mail before @
    assert roster.match("smithjohn").id == "jsmith"                                    # Canvas sortable name
    assert roster.match("John Smith").id == "jsmith"                                   # Moodle full name
    assert roster.match("Ana Lopez").id == "ana" and roster.match("김민준").id == "김민준"
    assert roster.match("mallory") is None


def test_an_override_needs_a_reason_and_points_within_the_maximum(toy_root: Path):
    course = load_course(toy_root / "course.yml")
    a = course.assignment("week00-toy")
    with pytest.raises(UserError, match="--comment must say why"):
        record_override(course, a, "ana", 3, "  ")
    with pytest.raises(UserError, match="more than the 6 points"):
        record_override(course, a, "ana", 7, "bonus")
    with pytest.raises(UserError, match="no student 'ana'"):
        record_override(course, a, "ana", 3, "regraded by hand")


@pytest.mark.parametrize(("extensions", "message"), [
    ("{Alice: 1d, alice: 2d}", r"extensions: 'alice' and 'Alice' are the same student"),
    ("{ana: 2026-01-02}", r"extensions\.ana: the new due date 2026-01-02 is before the due date"),
])
def test_extensions_are_one_per_student_and_never_earlier(toy_root: Path, extensions: str, message: str):
    from autograder.errors import ConfigError

    path = toy_root / "course.yml"
    due = "    due: 2026-01-08\n"
    path.write_text(path.read_text().replace(due, f"{due}    extensions: {extensions}\n"))
    with pytest.raises(ConfigError, match=message):
        load_course(path)
