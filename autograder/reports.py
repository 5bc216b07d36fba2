"""What grading produces for people: result.json per submission, student feedback, CSV and Gradescope exports.

Everything shown to students comes from the fields of a GradeResult only (descriptions and student-safe
messages), never from the hidden checks' source.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd
from rich.table import Table
from rich.text import Text

from .harness import TestResult
from .i18n import _, gettext_, use_language
from .results import GradeResult, Status
from .roster import Student
from .students import folder_name, student_key

BASE_COLUMNS = ["student", "assignment", "score", "max_score", "raw_score", "late_penalty", "late_seconds",
                "submitted_at", "due_at", "override", "status", "reason", "review", "tampered"]
# nbgrader's `nbgrader export` columns, in its order (nbgrader/plugins/export.py), so scripts written for it work
NBGRADER_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
                    "raw_score", "late_submission_penalty", "score", "max_score"]
REASON_WIDTH = 60
MESSAGE_CAP = 500
_STATUS_STYLE = {Status.graded: "green", Status.needs_review: "magenta", Status.ungradable: "yellow",
                 Status.error: "red"}


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_NEW_FILE_MODE = 0o666 & ~_read_umask()  # what open() would give; mkstemp alone gives 0600


def _component(value: str) -> str:
    """An assignment id used as a folder name: refuse anything that could leave the folder."""
    if (not value or value in (".", "..") or value != value.strip() or any(c in value for c in "/\\")
            or any(ord(c) < 32 or ord(c) == 127 for c in value)):  # (ids nbgrader accepts: `ps1`, `Lab 2`)
        raise ValueError(f"{value!r} is not safe as a folder name")
    return value


def atomic_write(path: Path, text: str) -> Path:
    """Write ``path`` so that readers (and a crash) see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else _NEW_FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _json_text(data: Any) -> str:
    return json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def _num(value: float) -> str:
    return f"{round(value, 2):g}"


# --- result.json ------------------------------------------------------------------------------------------

def result_json_path(root: Path, result: GradeResult) -> Path:
    return root / "autograded" / folder_name(result.student) / _component(result.assignment) / "result.json"


def write_result_json(root: Path, result: GradeResult) -> Path:
    """``autograded/<student>/<assignment>/result.json``: the full record, in ``GradeResult.to_json`` schema.
    ``<student>`` is the student's folder name (:func:`autograder.students.folder_name`); the record inside has
    the id as written."""
    return atomic_write(result_json_path(root, result), _json_text(result.to_json()))


# --- student feedback ---------------------------------------------------------------------------------------

def _md(text: str, cap: int = MESSAGE_CAP) -> str:
    """Untrusted text (messages carry student values) as one inert Markdown table-cell line."""
    text = " ".join(str(text).split())
    if len(text) > cap:
        text = text[: cap - 1] + "…"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def _plain(text: str, cap: int = MESSAGE_CAP) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= cap else text[: cap - 1] + "…"


def _headline(result: GradeResult, esc: Callable[[str], str] = _md) -> list[str]:
    if result.status == Status.error:
        # An internal failure: its reason is for the instructor, and the score is not a grade.
        return [_("Not graded yet. The grader had a problem with your submission (not your fault); it will be "
                  "graded again.")]
    provisional = result.status == Status.needs_review
    score = _("Score: {score} / {max}", score=_num(result.final_score), max=_num(result.max_score))
    if result.penalty and result.override is None:
        score += " " + _("(checks {score}, late penalty −{penalty})", score=_num(result.score),
                         penalty=_num(result.penalty))
    lines = [score + (" " + _("(provisional)") if provisional else "")]
    if result.late_seconds > 0:
        lines.append(_("Handed in {late} after the due date ({due}).", late=late_text(result.late_seconds),
                       due=esc(result.due_at)))
    if result.override is not None:
        lines.append(_("Score set by the course staff: {score} (checks gave {checks}): {comment}",
                       score=_num(result.final_score), checks=_num(result.score),
                       comment=esc(str(result.override.get("comment", "")))))
    if provisional:
        # The reasons name the student's own cells and functions, never anything of the hidden checks.
        lines.append(_("This score is provisional, pending a review by the course staff: {reasons}.",
                       reasons="; ".join(esc(reason) for reason in result.review)))
    if result.status == Status.ungradable:
        lines.append(_("Your submission could not be graded: {reason}", reason=esc(translated(result.reason))))
    elif result.reason:
        lines.append(_("Note: {reason}", reason=esc(translated(result.reason))))
    pending = sum(t.points for t in result.tests if t.pending)
    if pending and result.status != Status.ungradable:
        lines.append(_("{pending} of the {max} points are pending manual review: a person grades those parts "
                       "(marked below) and adds their points.", pending=_num(pending), max=_num(result.max_score)))
    if result.tampered:
        lines.append(_("Locked cells you changed or deleted were restored from the released notebook before "
                       "grading: {cells}.", cells=", ".join(esc(t) for t in result.tampered)))
    return lines


def translated(text: str) -> str:
    """A recorded message in the current language: recorded text that is itself a catalog message (a fixed
    English line, or a check graded before its language was known) is translated, anything else is kept; a
    reason of several parts ("; ") is translated part by part."""
    return "; ".join(gettext_(part) if part.strip() else part for part in str(text).split("; "))


def late_text(seconds: float) -> str:
    """``2 d 3 h 4 min`` (whole minutes, rounded up: a second late is late)."""
    minutes = -(-int(seconds) // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [_("{n} d", n=days) if days else "", _("{n} h", n=hours) if hours else "",
             _("{n} min", n=mins) if mins else ""]
    return " ".join(filter(None, parts)) or _("{n} min", n=0)


def _checks_table(tests: list[TestResult]) -> list[str]:
    rows = ["| " + " | ".join([_("Check"), _("Points"), _("Result")]) + " |", "|---|---|---|"]
    for t in tests:
        outcome = _outcome(t, _md)
        score = "–" if t.pending else _num(t.score)
        rows.append(f"| {_md(translated(t.description or t.name))} | {score} / {_num(t.points)} | {outcome} |")
    return rows


def _outcome(t: TestResult, esc: Callable[[str], str]) -> str:
    """passed / failed: why / pending manual review / graded by the course staff: their comment; a verdict reached
    inside the sandbox says it is forgeable."""
    if t.pending:
        return _("pending manual review")
    if t.manual is not None:
        comment = str(t.manual.get("comment", ""))
        return (_("graded by the course staff: {comment}", comment=esc(comment)) if comment
                else _("graded by the course staff"))
    if t.passed:
        outcome = _("passed")
    elif t.message:
        outcome = _("failed: {message}", message=esc(translated(t.message)))
    else:
        outcome = _("failed")
    return outcome + (" " + _("(forgeable: this test cell ran inside the sandbox, beside your code)")
                      if t.forgeable else "")


def _cell_errors(errors: list[dict[str, str]], esc: Callable[[str], str] = _md) -> list[str]:
    return [f"{esc(e.get('cell', '?'))}: {esc(e.get('error_type', 'error'))}"
            + (f": {esc(e['message'])}" if e.get("message") else "") for e in errors]


def feedback_markdown(result: GradeResult) -> str:
    """The student's feedback: score, why it could not be graded, each check, and the errors their cells raised."""
    first, *rest = _headline(result)
    blocks = [_("# {assignment}: feedback for {student}", assignment=_md(result.assignment),
                student=_md(result.student)), f"**{first}**", *rest]
    if result.status != Status.error and result.tests:
        blocks += [_("## Checks"), "\n".join(_checks_table(result.tests))]
    if result.status != Status.error and result.cell_errors:
        blocks += [_("## Errors while running your notebook"),
                   "\n".join(f"- {line}" for line in _cell_errors(result.cell_errors))]
    return "\n\n".join(blocks) + "\n"


def write_feedback(root: Path, result: GradeResult, title: str = "", headings: dict[str, str] | None = None
                   ) -> Path:
    """``feedback/<student>/<assignment>/feedback.md`` (nbgrader's feedback folder) and ``feedback.html`` beside
    it (the page a student opens); returns the Markdown's path."""
    from .pages import feedback_html

    folder = root / "feedback" / folder_name(result.student) / _component(result.assignment)
    atomic_write(folder / "feedback.html", feedback_html(result, title, headings))
    return atomic_write(folder / "feedback.md", feedback_markdown(result))


# --- gradebook exports --------------------------------------------------------------------------------------

def _test_columns(results: list[GradeResult]) -> dict[tuple[str, str], str]:
    """(test_id, name) -> column: the test name, or its id where two different checks share a name."""
    keys: dict[tuple[str, str], None] = {}
    for result in results:
        for t in result.tests:
            keys.setdefault((t.test_id, t.name), None)
    ids_per_name: dict[str, set[str]] = {}
    for test_id, name in keys:
        ids_per_name.setdefault(name, set()).add(test_id)
    return {(test_id, name): name if len(ids_per_name[name]) == 1 and name not in BASE_COLUMNS else test_id
            for test_id, name in keys}


def grades_frame(results: Iterable[GradeResult]) -> pd.DataFrame:
    """One row per student and assignment; test columns in first-seen order (hidden-check order)."""
    ordered = sorted(results, key=lambda r: (r.student, r.assignment))
    seen = {(r.student, r.assignment) for r in ordered}
    if len(seen) != len(ordered):
        raise ValueError("more than one result for the same student and assignment")
    columns = _test_columns(ordered)
    rows = []
    for r in ordered:
        row: dict[str, Any] = {"student": r.student, "assignment": r.assignment, "score": r.final_score,
                               "max_score": r.max_score, "raw_score": r.score, "late_penalty": r.penalty,
                               "late_seconds": r.late_seconds, "submitted_at": r.submitted_at, "due_at": r.due_at,
                               "override": "" if r.override is None else r.override["points"],
                               "status": r.status.value, "reason": r.reason,
                               "review": "; ".join(r.review), "tampered": "; ".join(r.tampered)}
        row.update({columns[(t.test_id, t.name)]: t.score for t in r.tests})
        rows.append(row)
    return pd.DataFrame(rows, columns=[*BASE_COLUMNS, *dict.fromkeys(columns.values())])


def export_csv(results: list[GradeResult], path: Path) -> Path:
    """The gradebook as CSV: a blank test cell means that check did not run for that student."""
    return atomic_write(path, grades_frame(results).to_csv(index=False, lineterminator="\n"))


def gradescope_json(result: GradeResult) -> dict[str, Any]:
    """Gradescope's autograder ``results.json`` for one submission (students read it: in their language)."""
    with use_language(result.lang):
        output = "\n".join(_headline(result, _plain))
        if result.cell_errors:
            output += "\n" + _("Errors while running your notebook:") + "\n" + \
                "\n".join(_cell_errors(result.cell_errors, _plain))
        return {
            "score": result.final_score,
            "execution_time": result.duration_s,  # exact seconds: Gradescope takes a number, not an integer
            "output": output,
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": [{"name": translated(t.description or t.name), "score": t.score, "max_score": t.points,
                       "status": "passed" if t.passed else "failed", "output": _outcome(t, _plain) if t.pending
                       or t.forgeable or t.manual is not None else translated(t.message), "visibility": "visible"}
                      for t in result.tests],
        }


def export_gradescope(results: list[GradeResult], folder: Path) -> list[Path]:
    """``<folder>/<student>/results.json`` for each result; status error is skipped (a grader failure must
    not reach students as a zero), so the returned paths say which were written. A result that needs review
    is exported with its output saying the score is provisional and why: Gradescope is where staff adjust it,
    and a student is never left with no word."""
    return [atomic_write(folder / folder_name(r.student) / "results.json", _json_text(gradescope_json(r)))
            for r in sorted(results, key=lambda r: r.student) if r.status != Status.error]


def _naive_utc(iso: str) -> str:
    """nbgrader writes its dates as ``str()`` of a naive UTC datetime (``2026-09-14 21:59:59``)."""
    if not iso:
        return ""
    moment = dt.datetime.fromisoformat(iso)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return str(moment)


def nbgrader_rows(assignment: str, due_at: str, max_score: float, results: list[GradeResult],
                  roster: list[Student]) -> list[dict[str, Any]]:
    """``nbgrader export`` rows of one assignment: every roster student (and anyone graded who is not on it), a
    student with no submission with an empty timestamp and scores of 0.0; score = raw - penalty, or the
    override."""
    by_key = {student_key(r.student): r for r in results}
    people = list(roster) + [Student(r.student) for r in results
                             if not any(student_key(s.id) == student_key(r.student) for s in roster)]
    rows = []
    for person in sorted(people, key=lambda s: student_key(s.id)):
        r = by_key.get(student_key(person.id))
        scored = r is not None and r.status != Status.error
        rows.append({"assignment": assignment, "duedate": _naive_utc(due_at),
                     "timestamp": _naive_utc(r.submitted_at) if r is not None else "", "student_id": person.id,
                     "last_name": person.last_name, "first_name": person.first_name, "email": person.email,
                     "raw_score": r.score if scored else 0.0, "late_submission_penalty": r.penalty if scored else 0.0,
                     "score": r.final_score if scored else 0.0, "max_score": r.max_score if r else max_score})
    return rows


def export_nbgrader_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    """The CSV ``nbgrader export`` writes (same header and order; fields quoted only where they must be)."""
    return atomic_write(path, pd.DataFrame(rows, columns=NBGRADER_COLUMNS).to_csv(index=False, lineterminator="\n"))


def export_canvas_csv(title: str, results: list[GradeResult], roster: list[Student], max_score: float,
                      path: Path) -> Path:
    """A Canvas gradebook import: ``Student,ID,SIS Login ID,Section`` then the assignment (matched by its title;
    Canvas reads ``ID`` as its user id, the roster's ``lms_id``), a ``Points Possible`` row, scores to 2
    decimals with penalties and overrides applied; no submission is a blank cell (no score)."""
    by_key = {student_key(r.student): r for r in results}
    people = list(roster) or [Student(r.student) for r in results]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["Student", "ID", "SIS Login ID", "Section", title])
    writer.writerow(["    Points Possible", "", "", "", _num(max_score)])
    for person in sorted(people, key=lambda s: (s.sortable_name.casefold(), s.id)):
        r = by_key.get(student_key(person.id))
        score = f"{round(r.final_score, 2):g}" if r is not None and r.status != Status.error else ""
        writer.writerow([person.sortable_name, person.lms_id, person.id, person.section, score])
    return atomic_write(path, buffer.getvalue())


def results_json(results: list[GradeResult]) -> list[dict[str, Any]]:
    """What ``grade --json`` prints: one object per result, as result.json holds it."""
    return [r.to_json() for r in results]


def summary_table(results: list[GradeResult], title: str | None = None) -> Table:
    """The CLI's overview: one row per result (plain text cells, so no markup in a reason is interpreted)."""
    table = Table(title=title, title_justify="left")
    any_late = any(r.late_seconds for r in results)  # the column only when someone was late
    for column, justify in (("student", "left"), ("score", "right"), ("max", "right"), ("late", "left"),
                            ("status", "left"), ("reason", "left")):
        if column != "late" or any_late:
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for r in results:
        reason = " ".join("; ".join(filter(None, [*r.review, r.reason])).split())
        if len(reason) > REASON_WIDTH:
            reason = reason[: REASON_WIDTH - 1] + "…"
        late = (late_text(r.late_seconds) + (f" −{_num(r.penalty)}" if r.penalty else "")) if r.late_seconds else ""
        score = _num(r.final_score) + ("*" if r.override is not None else "")
        table.add_row(Text(r.student), score, _num(r.max_score), *([Text(late)] if any_late else []),
                      Text(r.status.value, style=_STATUS_STYLE[r.status]), Text(reason))
    return table
