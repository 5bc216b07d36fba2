"""A class as an instructor runs it: a roster, due dates with a late policy and an extension, and the files an LMS
download really holds (a stray file, a case-variant duplicate, an LMS-named file, a name nobody on the roster
has); then exports with nbgrader's columns, an audited override, and renaming and removing students."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from autograder.config import Course, load_course
from autograder.errors import ConfigError, UserError
from autograder.reports import NBGRADER_COLUMNS
from autograder.roster import load_roster
from autograder.store import Store

from .conftest import cli

BERLIN = dt.timezone(dt.timedelta(hours=1))  # January: CET
DUE = dt.datetime(2026, 1, 8, 17, 0, tzinfo=BERLIN)
ROSTER = """id,first_name,last_name,email,lms_id,section
ana,Ana,Lopez,ana@uni.edu,111,A
ben,Ben,Ng,ben@uni.edu,112,A
cho,Cho,Kim,cho@uni.edu,113,B
dev,Dev,Patel,dev@uni.edu,114,B
eli,Eli,Cohen,eli@uni.edu,115,B
frank,Frank,Smith,frank@uni.edu,222,A
gus,Gus,Berg,gus@uni.edu,223,A
"""


def _late_course(toy: Course) -> Course:
    path = toy.root / "course.yml"
    data = yaml.safe_load(path.read_text())
    data["timezone"] = "Europe/Berlin"
    data["late"] = {"penalty": "percent", "percent": 10, "per": "day", "cap": 50, "grace": "10m", "cutoff": "7d"}
    data["assignments"][0]["due"] = "2026-01-08 17:00"
    data["assignments"][0]["extensions"] = {"Ben": "3d"}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    (toy.root / "students.csv").write_text(ROSTER)
    return load_course(path)


def _put(source: Path, target: Path, when: dt.datetime) -> None:
    shutil.copy(source, target)
    os.utime(target, (when.timestamp(), when.timestamp()))


def _incoming(course: Course) -> Path:
    folder = course.root / "incoming"
    folder.mkdir()
    good = course.root / "solutions/week00-toy/toy.ipynb"
    blank = course.root / "release/week00-toy/toy.ipynb"
    _put(good, folder / "ana.ipynb", DUE - dt.timedelta(hours=1))                       # on time
    _put(good, folder / "ben.ipynb", DUE + dt.timedelta(days=2))                        # late, within his extension
    _put(good, folder / "cho.ipynb", DUE + dt.timedelta(days=1, hours=12))              # 2 started days: -20 %
    _put(blank, folder / "dev.ipynb", DUE - dt.timedelta(days=1))                       # a case-variant duplicate:
    _put(good, folder / "DEV (1).ipynb", DUE - dt.timedelta(hours=2))                   # the newest is graded
    _put(good, folder / "eli.ipynb", DUE + dt.timedelta(days=9))                        # after the cut-off: 0
    _put(good, folder / "smithfrank_LATE_222_98765_toy.ipynb", DUE + dt.timedelta(minutes=5))  # Canvas, in grace
    _put(good, folder / "mallory.ipynb", DUE)                                           # on nobody's roster
    (folder / "notes.txt").write_text("not a notebook")                                 # a stray file
    return folder


def _gradebook(course: Course) -> dict:
    with Store(course.root / "gradebook.db") as store:
        return {r.student: r for r in store.latest("week00-toy")}


def test_a_class_with_a_roster_grades_into_the_right_students_with_the_right_penalties(toy: Course):
    course = _late_course(toy)
    folder = _incoming(course)
    run = cli("grade", "week00-toy", "--submissions", str(folder), "--jobs", "2", cwd=course.root)
    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if line.startswith("warning:")]
    assert sum("notes.txt" in line for line in warnings) == 1                   # one line for the stray file
    assert sum("mallory" in line and "not graded" in line for line in warnings) == 1
    results = _gradebook(course)
    assert sorted(results) == ["ana", "ben", "cho", "dev", "eli", "frank"]      # no mallory, no "DEV (1)"
    final = {name: (r.score, r.penalty, r.final_score) for name, r in results.items()}
    assert final == {"ana": (6, 0, 6), "ben": (6, 0, 6), "cho": (6, 1.2, 4.8), "dev": (6, 0, 6),
                     "eli": (6, 6, 0), "frank": (6, 0, 6)}
    assert results["ben"].late_seconds == 0 and results["ben"].due_at == "2026-01-11T16:00:00+00:00"
    assert results["cho"].late_seconds == 36 * 3600 and results["cho"].time_source == "file modified time"
    assert results["frank"].late_seconds == 300                                 # late, but within the grace
    assert results["ana"].due_at == "2026-01-08T16:00:00+00:00"
    assert "cho" in run.stdout and "1 d 12 h" in run.stdout                    # the batch shows lateness
    feedback = (course.root / "feedback/cho/week00-toy/feedback.md").read_text()
    assert "Score: 4.8 / 6 (checks 6, late penalty −1.2)" in feedback and "1 d 12 h after the due date" in feedback

    export = cli("export", "week00-toy", "--format", "nbgrader", cwd=course.root)
    assert export.returncode == 0, export.stderr
    with (course.root / "exports/week00-toy-nbgrader.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == NBGRADER_COLUMNS
    by_id = {row["student_id"]: row for row in rows}
    assert sorted(by_id) == ["ana", "ben", "cho", "dev", "eli", "frank", "gus"]  # gus: on the roster, no work
    assert by_id["cho"] == {"assignment": "week00-toy", "duedate": "2026-01-08 16:00:00",
                            "timestamp": "2026-01-10 04:00:00", "student_id": "cho", "last_name": "Kim",
                            "first_name": "Cho", "email": "cho@uni.edu", "raw_score": "6.0",
                            "late_submission_penalty": "1.2", "score": "4.8", "max_score": "6.0"}
    assert (by_id["gus"]["timestamp"], by_id["gus"]["score"]) == ("", "0.0")

    over = cli("override", "cho", "week00-toy", "--points", "5.5", "--comment", "doctor's note for Tuesday",
               cwd=course.root, env={"AUTOGRADER_USER": "prof.x"})
    assert over.returncode == 0, over.stderr
    assert "was 4.8" in over.stdout and "prof.x" in over.stdout
    cli("export", "week00-toy", "--format", "nbgrader", cwd=course.root)
    with (course.root / "exports/week00-toy-nbgrader.csv").open() as handle:
        assert {row["student_id"]: row["score"] for row in csv.DictReader(handle)}["cho"] == "5.5"
    with Store(course.root / "gradebook.db") as store:
        (audit,) = store.overrides("week00-toy")
    assert (audit["student"], audit["points"], audit["author"], audit["comment"]) == \
        ("cho", 5.5, "prof.x", "doctor's note for Tuesday")
    assert dt.datetime.fromisoformat(audit["at"]).tzinfo is not None
    saved = json.loads((course.root / "autograded/cho/week00-toy/result.json").read_text())
    assert saved["final_score"] == 5.5 and saved["score"] == 6 and saved["override"]["author"] == "prof.x"
    assert "doctor's note" in (course.root / "feedback/cho/week00-toy/feedback.md").read_text()

    canvas = cli("export", "week00-toy", "--format", "canvas", cwd=course.root)
    assert canvas.returncode == 0, canvas.stderr
    lines = (course.root / "exports/week00-toy-canvas.csv").read_text().splitlines()
    assert lines[0] == "Student,ID,SIS Login ID,Section,Adding numbers"
    assert lines[1].startswith("    Points Possible,") and "\"Kim, Cho\",113,cho,B,5.5" in lines
    assert "\"Berg, Gus\",223,gus,A," in lines                                 # no submission: blank, no score

    gs = cli("export", "week00-toy", "--format", "gradescope", cwd=course.root)
    data = json.loads((course.root / "exports/week00-toy-gradescope/cho/results.json").read_text())
    assert gs.returncode == 0 and data["score"] == 5.5
    assert data["execution_time"] == results["cho"].duration_s                  # exact, not rounded

    bad = cli("export", "week00-toy", "--format", "xlsx", cwd=course.root)
    assert bad.returncode != 0 and "unknown export format 'xlsx'" in bad.stderr and "Traceback" not in bad.stderr

    # cho gets an extension after grading: the next `grade` re-applies the policy without running anything again
    data = yaml.safe_load((course.root / "course.yml").read_text())
    data["assignments"][0]["extensions"]["cho"] = "2d"
    (course.root / "course.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    again = cli("grade", "week00-toy", "--submissions", str(folder), cwd=course.root)
    assert again.returncode == 0 and "graded 0 submission(s)" in again.stdout
    cho = _gradebook(course)["cho"]
    assert (cho.penalty, cho.late_seconds, cho.score, cho.final_score) == (0, 0, 6, 5.5)  # the override stays


def test_students_are_renamed_and_removed_keeping_history(toy: Course):
    folder = toy.root / "incoming"
    folder.mkdir()
    good = toy.root / "solutions/week00-toy/toy.ipynb"
    shutil.copy(good, folder / "frank.ipynb")
    shutil.copy(good, folder / "franky.ipynb")       # no roster: graded as its own student, a phantom
    assert cli("grade", "week00-toy", "--submissions", str(folder), cwd=toy.root).returncode == 0
    listed = cli("students", "list", cwd=toy.root)
    assert "franky" in listed.stdout
    renamed = cli("students", "rename", "franky", "frank", cwd=toy.root)
    assert renamed.returncode == 0, renamed.stderr
    assert sorted(_gradebook(toy)) == ["frank"]
    shutil.copy(toy.root / "release/week00-toy/toy.ipynb", folder / "zed.ipynb")
    cli("grade", "week00-toy", "--submissions", str(folder), cwd=toy.root)
    assert "zed" in _gradebook(toy)
    removed = cli("students", "remove", "ZED", cwd=toy.root)
    assert removed.returncode == 0, removed.stderr
    assert sorted(_gradebook(toy)) == ["frank"]
    with Store(toy.root / "gradebook.db") as store:
        history = {row["student"]: row for row in store.students(include_removed=True)}
    assert history["zed"]["removed_at"] and history["zed"]["submissions"] == 1
    again = cli("students", "remove", "nobody", cwd=toy.root)
    assert again.returncode != 0 and "no student 'nobody'" in again.stderr and "Traceback" not in again.stderr


def test_grade_prints_only_its_batch_and_json_for_scripts(toy: Course):
    folder = toy.root / "incoming"
    folder.mkdir()
    shutil.copy(toy.root / "solutions/week00-toy/toy.ipynb", folder / "ana.ipynb")
    assert cli("grade", "week00-toy", "--submissions", str(folder), cwd=toy.root).returncode == 0
    shutil.copy(toy.root / "release/week00-toy/toy.ipynb", folder / "ben.ipynb")
    second = cli("grade", "week00-toy", "--submissions", str(folder), "--json", cwd=toy.root)
    assert second.returncode == 0, second.stderr
    data = json.loads(second.stdout)
    assert [(r["student"], r["final_score"]) for r in data] == [("ben", 0.0)]
    assert "check_output" not in data[0]
    everyone = cli("grade", "week00-toy", "--submissions", str(folder), "--all", cwd=toy.root)
    assert "ana" in everyone.stdout and "ben" in everyone.stdout


@pytest.mark.parametrize(("change", "message"), [
    ({"timezone": "Mars/Olympus"}, "timezone: unknown time zone 'Mars/Olympus'"),
    ({"late": {"penalty": "percent"}}, "late: penalty percent needs `percent:` above 0"),
    ({"late": {"penalty": "percent", "percent": 10, "cap": 150}}, "late.cap: Input should be less than or equal"),
])
def test_a_wrong_late_policy_is_one_clear_sentence(toy_root: Path, change: dict, message: str):
    path = toy_root / "course.yml"
    path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), **change}, sort_keys=False))
    with pytest.raises(ConfigError, match=message):
        load_course(path)


def test_an_extension_that_is_not_a_duration_or_date_names_the_student(toy_root: Path):
    path = toy_root / "course.yml"
    data = yaml.safe_load(path.read_text())
    data["assignments"][0]["extensions"] = {"ana": "a while"}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ConfigError, match=r"extensions\.ana: expected a duration such as 2d"):
        load_course(path)


def test_a_roster_with_a_repeated_student_names_the_line(toy: Course):
    (toy.root / "students.csv").write_text("id,email\nalice,a@x\nALICE,b@x\n")
    with pytest.raises(UserError, match="line 3: student ALICE is already on line 2"):
        load_roster(toy)
