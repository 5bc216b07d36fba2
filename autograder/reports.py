"""What grading produces for people: result.json per submission, student feedback, CSV and Gradescope exports.

Everything shown to students comes from the fields of a GradeResult only (descriptions and student-safe
messages), never from the hidden checks' source.
"""

from __future__ import annotations

import contextlib
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
from .results import GradeResult, Status
from .students import folder_name

BASE_COLUMNS = ["student", "assignment", "score", "max_score", "status", "reason", "review", "tampered"]
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
        return ["Not graded yet. The grader had a problem with your submission (not your fault); "
                "it will be graded again."]
    provisional = result.status == Status.needs_review
    lines = [f"Score: {_num(result.score)} / {_num(result.max_score)}" + (" (provisional)" if provisional else "")]
    if provisional:
        # The reasons name the student's own cells and functions, never anything of the hidden checks.
        lines.append("This score is provisional, pending a review by the course staff: "
                     + "; ".join(esc(reason) for reason in result.review) + ".")
    if result.status == Status.ungradable:
        lines.append(f"Your submission could not be graded: {esc(result.reason)}")
    elif result.reason:
        lines.append(f"Note: {esc(result.reason)}")
    pending = sum(t.points for t in result.tests if t.pending)
    if pending and result.status != Status.ungradable:
        lines.append(f"{_num(pending)} of the {_num(result.max_score)} points are pending manual review: a person "
                     "grades those parts (marked below) and adds their points.")
    if result.tampered:
        lines.append("Locked cells you changed or deleted were restored from the released notebook before "
                     "grading: " + ", ".join(esc(t) for t in result.tampered) + ".")
    return lines


def _checks_table(tests: list[TestResult]) -> list[str]:
    rows = ["| Check | Points | Result |", "|---|---|---|"]
    for t in tests:
        outcome = _outcome(t, _md)
        score = "–" if t.pending else _num(t.score)
        rows.append(f"| {_md(t.description or t.name)} | {score} / {_num(t.points)} | {outcome} |")
    return rows


def _outcome(t: TestResult, esc: Callable[[str], str]) -> str:
    """passed / failed: why / pending manual review; a verdict reached inside the sandbox says it is forgeable."""
    if t.pending:
        return "pending manual review"
    outcome = "passed" if t.passed else "failed" + (f": {esc(t.message)}" if t.message else "")
    return outcome + (" (forgeable: this test cell ran inside the sandbox, beside your code)" if t.forgeable else "")


def _cell_errors(errors: list[dict[str, str]], esc: Callable[[str], str] = _md) -> list[str]:
    return [f"{esc(e.get('cell', '?'))}: {esc(e.get('error_type', 'error'))}"
            + (f": {esc(e['message'])}" if e.get("message") else "") for e in errors]


def feedback_markdown(result: GradeResult) -> str:
    """The student's feedback: score, why it could not be graded, each check, and the errors their cells raised."""
    first, *rest = _headline(result)
    blocks = [f"# {_md(result.assignment)}: feedback for {_md(result.student)}", f"**{first}**", *rest]
    if result.status != Status.error and result.tests:
        blocks += ["## Checks", "\n".join(_checks_table(result.tests))]
    if result.status != Status.error and result.cell_errors:
        blocks += ["## Errors while running your notebook",
                   "\n".join(f"- {line}" for line in _cell_errors(result.cell_errors))]
    return "\n\n".join(blocks) + "\n"


def write_feedback(root: Path, result: GradeResult) -> Path:
    """``feedback/<student>/<assignment>/feedback.md`` (nbgrader's feedback folder)."""
    path = root / "feedback" / folder_name(result.student) / _component(result.assignment) / "feedback.md"
    return atomic_write(path, feedback_markdown(result))


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
        row: dict[str, Any] = {"student": r.student, "assignment": r.assignment, "score": r.score,
                               "max_score": r.max_score, "status": r.status.value, "reason": r.reason,
                               "review": "; ".join(r.review), "tampered": "; ".join(r.tampered)}
        row.update({columns[(t.test_id, t.name)]: t.score for t in r.tests})
        rows.append(row)
    return pd.DataFrame(rows, columns=[*BASE_COLUMNS, *dict.fromkeys(columns.values())])


def export_csv(results: list[GradeResult], path: Path) -> Path:
    """The gradebook as CSV: a blank test cell means that check did not run for that student."""
    return atomic_write(path, grades_frame(results).to_csv(index=False, lineterminator="\n"))


def gradescope_json(result: GradeResult) -> dict[str, Any]:
    """Gradescope's autograder ``results.json`` for one submission."""
    output = "\n".join(_headline(result, _plain))
    if result.cell_errors:
        output += "\nErrors while running your notebook:\n" + "\n".join(_cell_errors(result.cell_errors, _plain))
    return {
        "score": result.score,
        "execution_time": round(result.duration_s),
        "output": output,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [{"name": t.description or t.name, "score": t.score, "max_score": t.points,
                   "status": "passed" if t.passed else "failed", "output": _outcome(t, _plain) if t.pending
                   or t.forgeable else t.message, "visibility": "visible"}
                  for t in result.tests],
    }


def export_gradescope(results: list[GradeResult], folder: Path) -> list[Path]:
    """``<folder>/<student>/results.json`` for each result; status error is skipped (a grader failure must
    not reach students as a zero), so the returned paths say which were written. A result that needs review
    is exported with its output saying the score is provisional and why: Gradescope is where staff adjust it,
    and a student is never left with no word."""
    return [atomic_write(folder / folder_name(r.student) / "results.json", _json_text(gradescope_json(r)))
            for r in sorted(results, key=lambda r: r.student) if r.status != Status.error]


def summary_table(results: list[GradeResult], title: str | None = None) -> Table:
    """The CLI's overview: one row per result (plain text cells, so no markup in a reason is interpreted)."""
    table = Table(title=title, title_justify="left")
    for column, justify in (("student", "left"), ("score", "right"), ("max", "right"), ("status", "left"),
                            ("reason", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for r in results:
        reason = " ".join("; ".join(filter(None, [*r.review, r.reason])).split())
        if len(reason) > REASON_WIDTH:
            reason = reason[: REASON_WIDTH - 1] + "…"
        table.add_row(Text(r.student), _num(r.score), _num(r.max_score),
                      Text(r.status.value, style=_STATUS_STYLE[r.status]), Text(reason))
    return table
