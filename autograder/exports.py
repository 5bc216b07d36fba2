"""Exports, overrides and the student list: the library behind `autograder export`, `override` and `students`.

Every export reads the gradebook's latest result per student with penalties and overrides applied
(:attr:`GradeResult.final_score`), and the roster when there is one (names, e-mails, LMS ids, students with no
submission).
"""

from __future__ import annotations

import getpass
import math
import os
from pathlib import Path
from typing import Any

from .config import Assignment, Course
from .errors import UserError
from .harness import collect_expected
from .reports import (
    export_canvas_csv,
    export_csv,
    export_gradescope,
    export_nbgrader_csv,
    nbgrader_rows,
)
from .results import GradeResult, now_iso
from .roster import load_roster
from .store import Store
from .students import student_key


def latest(course: Course, assignment: Assignment) -> list[GradeResult]:
    with Store(course.root / course.gradebook) as store:
        return store.latest(assignment.id)


def max_points(course: Course, assignment: Assignment, results: list[GradeResult]) -> float:
    """The assignment's maximum: from its results, else from its hidden checks."""
    if results:
        return max(r.max_score for r in results)
    return float(sum(t["points"] for t in collect_expected(course, assignment).values()))


def export(course: Course, assignment: Assignment, format: str, output: Path | None) -> list[str]:
    """Write one export of ``assignment``; the lines to print (what was written where)."""
    results = latest(course, assignment)
    roster = load_roster(course).students
    folder = course.root / "exports"
    if format == "csv":
        path = export_csv(results, output or folder / f"{assignment.id}.csv")
        return [f"wrote {_rel(path)} ({len(results)} student(s))"]
    if format == "nbgrader":
        due = course.due_at(assignment).isoformat()
        rows = nbgrader_rows(assignment.id, due, max_points(course, assignment, results), results, roster)
        path = export_nbgrader_csv(rows, output or folder / f"{assignment.id}-nbgrader.csv")
        return [f"wrote {_rel(path)} ({len(rows)} student(s))"]
    if format == "canvas":
        lines = []
        if "final" in assignment.title.casefold():
            lines.append(f"warning: Canvas skips a column whose title contains 'Final' ({assignment.title!r})")
        path = export_canvas_csv(assignment.title, results, roster, max_points(course, assignment, results),
                                 output or folder / f"{assignment.id}-canvas.csv")
        if not any(s.lms_id for s in roster):
            lines.append("warning: no roster lms_id (Canvas user id) for anyone; Canvas will match students by "
                         "SIS Login ID (the student id)")
        return [*lines, f"wrote {_rel(path)} ({len(roster) or len(results)} student(s))"]
    if format == "gradescope":
        paths = export_gradescope(results, output or folder / f"{assignment.id}-gradescope")
        return [f"wrote {len(paths)} results.json file(s) under {_rel(paths[0].parent.parent) if paths else '-'}"]
    raise UserError(f"unknown export format {format!r}")


def who_am_i() -> str:
    """Who records an override: $AUTOGRADER_USER, else the login name."""
    try:
        return os.environ.get("AUTOGRADER_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def record_override(course: Course, assignment: Assignment, student: str, points: float, comment: str) -> str:
    """Record a person's score (audited: who, when, why); the line to print."""
    if not math.isfinite(points) or points < 0:
        raise UserError(f"--points must be a number of points of at least 0, got {points:g}")
    if not comment.strip():
        raise UserError("--comment must say why the score is overridden (it is kept, and shown to the student)")
    results = {student_key(r.student): r for r in latest(course, assignment)}
    top = max_points(course, assignment, list(results.values()))
    if points > top:
        raise UserError(f"--points {points:g} is more than the {top:g} points {assignment.id} is worth")
    author, at = who_am_i(), now_iso()
    with Store(course.root / course.gradebook) as store:
        store.override(student, assignment.id, points, comment.strip(), author, at)
        result = next((r for r in store.latest(assignment.id) if r.student.casefold() == student.casefold()), None)
    if result is not None:  # the student's feedback says so at once
        from .pages import release_headings
        from .reports import write_feedback, write_result_json

        write_result_json(course.root, result)
        write_feedback(course.root, result, assignment.title,
                       release_headings(course.release_dir(assignment), tuple(assignment.notebooks)))
    was = f" (was {results[student_key(student)].final_score:g})" if student_key(student) in results else ""
    return f"{student} {assignment.id}: {points:g}/{top:g}{was}, by {author} at {at}: {comment.strip()}"


def student_list(course: Course, removed: bool = False) -> list[dict[str, Any]]:
    roster = load_roster(course)
    with Store(course.root / course.gradebook) as store:
        rows = store.students(include_removed=removed)
    for row in rows:
        row["on_roster"] = "-" if not roster else ("yes" if roster.get(row["student"]) else "no")
    return rows


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
