"""Reports: atomic result.json, student feedback that shows only result fields, CSV and Gradescope exports."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from autograder import reports
from autograder.harness import TestResult
from autograder.reports import (
    export_csv,
    export_gradescope,
    feedback_markdown,
    summary_table,
    write_feedback,
    write_result_json,
)
from autograder.results import RESULT_SCHEMA_VERSION, GradeResult, Status


def graded(student: str = "alice", **extra) -> GradeResult:
    tests = [TestResult("test_toy.py::test_add", "test_add", "add returns the sum", 2.0, True, ""),
             TestResult("test_toy.py::test_scale", "test_scale", "scale multiplies by k", 1.0, False,
                        "scale(2, 3) returned 5 | expected <b>more</b>\nsee the docstring")]
    fields = {"score": 2.0, "max_score": 3.0, "tests": tests, "backend": "inprocess",
              "cell_errors": [{"cell": "cell 4", "error_type": "ZeroDivisionError", "message": "division by zero"}],
              "duration_s": 12.6, "started_at": "2026-01-05T12:00:00+00:00"}
    return GradeResult(student, "week00-toy", "abc123", Status.graded, **{**fields, **extra})


def ungradable(student: str = "bob") -> GradeResult:
    return GradeResult.ungradable(student, "week00-toy", "def456", "the notebook is not valid JSON", 3.0)


def reviewed(student: str = "erin") -> GradeResult:
    result = graded(student, score=0.0, tests=[
        TestResult("test_toy.py::test_add", "test_add", "add returns the sum", 2.0, False, "`add` is not defined")],
        review=["answer cell answer-add is missing and no cell of the notebook defines `add`"],
        tampered=["check-add: modified"])
    result.status = Status.needs_review
    return result


def crashed(student: str = "carol") -> GradeResult:
    return GradeResult(student, "week00-toy", "0f0f", Status.error, max_score=3.0,
                       reason="runner died: /srv/grader/secret/path.py line 12")


def test_result_json_is_the_versioned_schema_written_atomically(tmp_path: Path):
    result = graded()
    path = write_result_json(tmp_path, result)
    assert path == tmp_path / "autograded/alice/week00-toy/result.json"
    text = path.read_text(encoding="utf-8")
    assert text.startswith('{\n "assignment": "week00-toy",\n "backend": "inprocess",\n')  # sorted, indent 1
    assert GradeResult.from_json(json.loads(text)) == result
    write_result_json(tmp_path, graded(score=3.0))
    assert json.loads(path.read_text())["score"] == 3.0
    assert [p.name for p in path.parent.iterdir()] == ["result.json"]  # no temporary files left


def test_result_json_keeps_review_and_tampering_and_reads_version_1(tmp_path: Path):
    data = json.loads(write_result_json(tmp_path, reviewed()).read_text())
    assert data["schema_version"] == RESULT_SCHEMA_VERSION and data["status"] == "needs_review"
    assert data["tampered"] == ["check-add: modified"] and GradeResult.from_json(data) == reviewed()
    old = {k: v for k, v in graded().to_json().items() if k not in ("review", "tampered")} | {"schema_version": 1}
    assert GradeResult.from_json(old) == graded()
    with pytest.raises(ValueError, match="unsupported"):
        GradeResult.from_json({**old, "schema_version": RESULT_SCHEMA_VERSION + 1})


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = write_result_json(tmp_path, graded())
    before = path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(reports.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_result_json(tmp_path, graded(score=0.0))
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["result.json"]


@pytest.mark.parametrize("student", ["../escape", "..", "a/b", "", "x\0y", "CON", "Kim: Minjun?", "김민준"])
def test_every_student_gets_one_safe_folder_inside_the_output_folder(tmp_path: Path, student: str):
    """(Was: such names were refused. Ids are Unicode now and each maps to a safe folder: students.folder_name.)"""
    root = tmp_path / "root"
    result = write_result_json(root, graded(student))
    feedback = write_feedback(root, graded(student))
    [gradescope] = export_gradescope([graded(student)], root / "gs")
    assert result.parent.parent.parent == root / "autograded" and feedback.parent.parent.parent == root / "feedback"
    assert gradescope.parent.parent == root / "gs"
    assert result.parent.parent.name == feedback.parent.parent.name == gradescope.parent.name  # one folder name
    assert all(p.resolve().is_relative_to(root.resolve()) for p in (result, feedback, gradescope))
    assert json.loads(result.read_text(encoding="utf-8"))["student"] == student  # the id as written, inside
    if student == "김민준":
        assert result == root / "autograded/김민준/week00-toy/result.json"


def test_feedback_shows_score_checks_and_cell_errors_from_the_result_only(tmp_path: Path):
    text = feedback_markdown(graded())
    assert "**Score: 2 / 3**" in text
    assert "| add returns the sum | 2 / 2 | passed |" in text
    # the message is one line, its pipe cannot break the table, and its HTML is inert
    assert ("| scale multiplies by k | 0 / 1 | failed: scale(2, 3) returned 5 \\| expected &lt;b&gt;more&lt;/b&gt; "
            "see the docstring |") in text
    assert "- cell 4: ZeroDivisionError: division by zero" in text
    assert "test_toy.py" not in text and "test_scale" not in text  # ids and function names are not shown
    path = write_feedback(tmp_path, graded())
    assert path == tmp_path / "feedback/alice/week00-toy/feedback.md" and path.read_text() == text


def test_feedback_explains_an_ungradable_submission_and_hides_grader_errors():
    text = feedback_markdown(ungradable())
    assert "**Score: 0 / 3**" in text and "could not be graded: the notebook is not valid JSON" in text
    assert "## Checks" not in text
    text = feedback_markdown(crashed())
    assert "Not graded yet" in text
    assert "/srv/grader" not in text and "Score" not in text


def test_feedback_notes_a_limit_hit_on_a_graded_submission():
    assert "Note: stopped after the 60 s time limit" in feedback_markdown(
        graded(reason="stopped after the 60 s time limit"))


def test_csv_has_one_row_per_student_and_a_stable_column_order(tmp_path: Path):
    other = TestResult("extra/test_more.py::test_add", "test_add", "another add", 1.0, True, "")
    dana = graded("dana", tests=[*graded().tests, other], score=3.0, max_score=4.0)
    results = [graded("alice"), ungradable("bob"), dana]
    first = export_csv(results, tmp_path / "grades.csv").read_bytes()
    second = export_csv(list(reversed(results)), tmp_path / "again.csv").read_bytes()
    assert first == second
    frame = pd.read_csv(tmp_path / "grades.csv")
    assert list(frame.columns) == [*reports.BASE_COLUMNS, "test_toy.py::test_add", "test_scale",
                                   "extra/test_more.py::test_add"]
    assert reports.BASE_COLUMNS[:4] == ["student", "assignment", "score", "max_score"]
    assert list(frame["student"]) == ["alice", "bob", "dana"]
    assert list(frame["status"]) == ["graded", "ungradable", "graded"]
    assert frame["test_toy.py::test_add"].tolist()[0] == 2.0 and frame["test_scale"].tolist()[0] == 0.0
    assert frame["test_scale"].isna().tolist() == [False, True, False]  # bob's checks did not run
    assert frame.loc[2, "extra/test_more.py::test_add"] == 1.0


def test_csv_uses_test_names_when_they_are_unique(tmp_path: Path):
    frame = pd.read_csv(export_csv([graded()], tmp_path / "g.csv"))
    assert list(frame.columns)[len(reports.BASE_COLUMNS):] == ["test_add", "test_scale"]


def test_csv_refuses_two_results_for_one_student(tmp_path: Path):
    with pytest.raises(ValueError, match="more than one result"):
        export_csv([graded(), graded()], tmp_path / "g.csv")
    assert not (tmp_path / "g.csv").exists()


def test_a_result_needing_review_says_provisional_and_why_to_the_student():
    text = feedback_markdown(reviewed())
    assert "**Score: 0 / 3 (provisional)**" in text
    assert ("This score is provisional, pending a review by the course staff: answer cell answer-add is missing "
            "and no cell of the notebook defines `add`.") in text
    assert "Locked cells you changed or deleted were restored from the released notebook before grading: " \
        "check-add: modified." in text
    assert "provisional" not in feedback_markdown(graded()) and "restored" not in feedback_markdown(graded())


def test_csv_and_summary_show_review_status_reasons_and_tampering(tmp_path: Path):
    frame = pd.read_csv(export_csv([graded(), reviewed()], tmp_path / "g.csv"))
    assert list(frame["status"]) == ["graded", "needs_review"]
    assert frame.loc[1, "review"].startswith("answer cell answer-add is missing")
    assert frame.loc[1, "tampered"] == "check-add: modified" and frame["review"].isna().tolist()[0]
    console = Console(record=True, width=200, color_system="truecolor")
    console.print(summary_table([reviewed()]))
    line = next(line for line in console.export_text(styles=False).splitlines() if "erin" in line)
    assert "needs_review" in line and "answer cell answer-add is missing" in line
    assert reports._STATUS_STYLE[Status.needs_review] not in {reports._STATUS_STYLE[s] for s in Status
                                                              if s != Status.needs_review}


def test_gradescope_exports_a_result_needing_review_as_provisional(tmp_path: Path):
    (path,) = export_gradescope([reviewed()], tmp_path / "gs")
    data = json.loads(path.read_text())
    assert data["score"] == 0.0 and data["output"].startswith("Score: 0 / 3 (provisional)\nThis score is provisional")


def test_gradescope_results_follow_its_schema_and_skip_grader_errors(tmp_path: Path):
    paths = export_gradescope([graded(), ungradable(), crashed()], tmp_path / "gs")
    assert paths == [tmp_path / "gs/alice/results.json", tmp_path / "gs/bob/results.json"]
    alice = json.loads(paths[0].read_text())
    assert set(alice) == {"score", "execution_time", "output", "visibility", "stdout_visibility", "tests"}
    assert (alice["score"], alice["execution_time"], alice["visibility"]) == (2.0, 12.6, "visible")  # exact
    assert alice["tests"][1] == {"name": "scale multiplies by k", "score": 0.0, "max_score": 1.0, "status": "failed",
                                 "output": graded().tests[1].message, "visibility": "visible"}
    assert alice["tests"][0]["status"] == "passed" and alice["tests"][0]["score"] == 2.0
    assert "ZeroDivisionError" in alice["output"]
    bob = json.loads(paths[1].read_text())
    assert bob["score"] == 0.0 and bob["tests"] == [] and "not valid JSON" in bob["output"]
    assert not (tmp_path / "gs/carol").exists()


def test_summary_table_shows_each_result_with_reasons_truncated_and_not_parsed_as_markup():
    long_reason = "[red]x[/red] " + "the notebook is far too long " * 5
    table = summary_table([graded(), GradeResult.ungradable("bob", "week00-toy", "h", long_reason, 3.0)])
    console = Console(record=True, width=200, color_system=None)
    console.print(table)
    text = console.export_text()
    lines = [line for line in text.splitlines() if "alice" in line or "bob" in line]
    assert len(lines) == 2
    assert lines[0].split() == ["│", "alice", "│", "2", "│", "3", "│", "graded", "│", "│"]
    assert "[red]x[/red] the notebook" in lines[1] and "…" in lines[1]
    assert len(long_reason) > reports.REASON_WIDTH and "far too long the notebook is far too long " \
        "the notebook is far too long" not in lines[1]


def test_atomic_write_creates_folders_and_files_as_open_would(tmp_path: Path):
    path = reports.atomic_write(tmp_path / "a" / "b" / "c.txt", "hello\n")
    assert path.read_text() == "hello\n"
    assert path.stat().st_mode & 0o777 == 0o666 & ~reports._read_umask()  # not mkstemp's 0600
    path.chmod(0o640)
    reports.atomic_write(path, "again\n")
    assert path.stat().st_mode & 0o777 == 0o640  # an existing file keeps its mode
