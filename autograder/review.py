"""Manual review: the round trip behind `autograder review` for nbgrader's manually graded answers and tasks.

A manually graded part is *pending* until a person scores it. Grading stores the student's answer text with the
run (``test_results.answer``: the submission as graded, not a file that may have changed since). ``--export``
writes every pending answer of each student's latest run to a CSV a grader fills in (UTF-8 with a BOM so Excel
reads it as UTF-8, answers with newlines quoted, one row per student and part), and an HTML page beside it to
read long answers. ``--import`` reads it back: every row is checked first and nothing is recorded if any is
wrong; blank rows stay pending. Each score is recorded in the gradebook's ``reviews`` table with who, when, the
comment and the file, tied to the answer's hash: a later re-grade of the same answer keeps the review, a changed
answer makes it *stale* (pending again, saying who reviewed the old one). The order of everything that sets a
score: checks + reviewed points = raw score; the late penalty applies to that; an override replaces the final
score whatever the reviews say.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import UserError
from .notebooks import grade_id
from .program import normalised
from .reports import atomic_write
from .results import GradeResult, now_iso
from .store import STALE, Store, answer_sha
from .students import student_key

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from .config import Assignment, Course
    from .program import Program
    from .testcells import ManualCell

COLUMNS = ["student", "notebook", "grade_id", "heading", "answer", "max_points", "points", "comment", "status",
           "assignment", "answer_id"]
REQUIRED = ["student", "notebook", "grade_id", "points", "comment", "assignment", "answer_id"]
NOT_FOUND = "(no answer found in the submission: the cell's nbgrader metadata is gone; open the notebook)"
ANSWER_CAP = 30_000  # Excel holds at most 32,767 characters in a cell
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run these as formulas (CSV injection)


# --- at grading time: the student's answers ------------------------------------------------------------------

def _belongs_to_release(cell: NotebookNode, ids: set[str], texts: set[str]) -> bool:
    gid = grade_id(cell)
    return (gid is not None and gid in ids) or normalised(str(cell.get("source", ""))) in texts


def _cells_after(student: NotebookNode, anchor: int, ids: set[str], texts: set[str]) -> list[NotebookNode]:
    """The student's own cells after cell ``anchor``, up to the next cell that is the release's."""
    found = []
    for cell in student.cells[anchor + 1:]:
        if _belongs_to_release(cell, ids, texts):
            break
        found.append(cell)
    return found


def _anchor(student: NotebookNode, cell: NotebookNode) -> int | None:
    """Where a release cell is in the student's notebook: by grade id, else by its text."""
    gid, text = grade_id(cell), normalised(str(cell.get("source", "")))
    for index, mine in enumerate(student.cells):
        if (gid is not None and grade_id(mine) == gid) or (text and normalised(str(mine.get("source", ""))) == text):
            return index
    return None


def answer_text(part: ManualCell, student: NotebookNode, release: NotebookNode, program: Program | None = None
                ) -> str:
    """The student's answer to one manually graded part: the cell with its grade id; for a code answer found
    another way (metadata lost), the cell the graded program took for it; for a task (a locked cell that asks for
    work), the student's cells below it; else the student's cells where the release had the answer."""
    cells: list[NotebookNode] = []
    if part.kind != "task":
        cells = [c for c in student.cells if grade_id(c) == part.grade_id]
        if not cells and program is not None:
            sources = [c.source for c in program.cells if c.release_id == part.grade_id and not c.from_release]
            if sources:
                return _capped("\n\n".join(sources))
    if not cells:
        ids = {gid for c in release.cells if (gid := grade_id(c)) and gid != part.grade_id}
        texts = {normalised(str(c.source)) for c in release.cells if grade_id(c) != part.grade_id} - {""}
        position = next((i for i, c in enumerate(release.cells) if grade_id(c) == part.grade_id), None)
        if part.kind == "task":
            anchor = _anchor(student, release.cells[position]) if position is not None else None
        else:
            earlier = release.cells[:position] if position is not None else []
            anchor = _anchor(student, earlier[-1]) if earlier else -1
        if anchor is None:
            return NOT_FOUND
        cells = [c for c in _cells_after(student, anchor, ids, texts) if str(c.get("source", "")).strip()]
        if not cells and part.kind != "task":
            return NOT_FOUND
    return _capped("\n\n".join(str(c.get("source", "")) for c in cells))


def _capped(text: str) -> str:
    if len(text) <= ANSWER_CAP:
        return text
    return text[:ANSWER_CAP] + f"\n… ({len(text) - ANSWER_CAP} more characters: open the notebook)"


def answers_of(parts: list[ManualCell], notebook: str, student: NotebookNode, release: NotebookNode,
               program: Program | None = None) -> dict[str, str]:
    """test id -> the student's answer, for the manually graded parts of one notebook."""
    return {p.test_id: answer_text(p, student, release, program) for p in parts if p.notebook == notebook}


# --- the file a grader fills in ------------------------------------------------------------------------------

def answer_id(answer: str) -> str:
    """The answer a row was exported with (its hash, begun with letters: a spreadsheet must not read it as a
    number such as 1234e56)."""
    return "sha-" + answer_sha(answer)[:12]


def _cell(text: str) -> str:
    """Text a spreadsheet shows as text: one starting like a formula gets a leading apostrophe."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _uncell(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_START) else text


def _latest(course: Course, assignment: Assignment) -> list[GradeResult]:
    with Store(course.root / course.gradebook) as store:
        return store.latest(assignment.id)


def _manual(result: GradeResult) -> list[Any]:
    """The manually graded parts of a result (pending, stale or reviewed)."""
    return [t for t in result.tests if t.pending or t.manual is not None]


def _status(test: Any) -> str:
    if test.manual is not None:
        return f"reviewed by {test.manual['author']} ({test.manual['at']})"
    return "stale: " + test.message.split(": ", 1)[-1] if STALE in test.message else "pending"


def export_rows(course: Course, assignment: Assignment, include_reviewed: bool = False) -> list[dict[str, Any]]:
    """One row per pending (or, with ``include_reviewed``, every) manually graded part of each student's latest
    run, by student then notebook order."""
    from .pages import release_headings

    headings = release_headings(course.release_dir(assignment), tuple(assignment.notebooks))
    rows = []
    for r in _latest(course, assignment):
        for t in _manual(r):
            if t.manual is not None and not include_reviewed:
                continue
            notebook, _, gid = t.test_id.partition("::")
            answer = r.answers.get(t.test_id)
            rows.append({
                "student": r.student, "notebook": notebook, "grade_id": gid, "heading": headings.get(gid, ""),
                "answer": answer if answer is not None else "(not stored: graded before manual review existed; "
                                                            "run `autograder grade --regrade`, or open the notebook)",
                "max_points": f"{t.points:g}", "points": "" if t.manual is None else f"{t.manual['points']:g}",
                "comment": "" if t.manual is None else t.manual["comment"], "status": _status(t),
                "assignment": assignment.id, "answer_id": answer_id(answer or "")})
    return rows


def export(course: Course, assignment: Assignment, path: Path, include_reviewed: bool = False) -> list[str]:
    """Write the CSV to fill in (and ``<name>.html`` beside it to read the answers); the lines to print."""
    if path.suffix.lower() != ".csv":
        raise UserError("the review file must be a .csv (a spreadsheet opens it; an HTML page to read the "
                        "answers is written beside it)", path)
    rows = export_rows(course, assignment, include_reviewed)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")  # RFC 4180; newlines are quoted
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) if k in ("student", "heading", "answer", "comment") else v
                         for k, v in row.items()})
    atomic_write(path, "\ufeff" + buffer.getvalue())  # the BOM: Excel then reads UTF-8, not the locale's code page
    from .pages import render

    page = atomic_write(path.with_suffix(".html"), render("review.html.j2", a=assignment, rows=rows,
                                                          file=path.name))
    pending = sum(1 for row in rows if not row["points"])
    return [f"wrote {_rel(path)}: {len(rows)} answer(s), {pending} pending, of "
            f"{len({row['student'] for row in rows})} student(s); fill in `points` (and `comment`), then "
            f"`autograder review {assignment.id} --import {_rel(path)}`",
            f"wrote {_rel(page)} (the answers, to read)"]


# --- reading it back ---------------------------------------------------------------------------------------

@dataclass
class _Known:
    """What the gradebook expects of a row: the student's answer to a manually graded part, its worth, its
    current review."""

    student: str
    test_id: str
    points: float
    answer: str
    reviewed: dict[str, Any] | None


def _read_table(path: Path) -> list[dict[str, str]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read the review file ({exc.strerror or exc})", path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError("not UTF-8 text: save it as 'CSV UTF-8' (Excel) or UTF-8 CSV (LibreOffice), not in the "
                        "computer's own code page", path) from None
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")  # Excel may save with ; or tabs
    except csv.Error:
        dialect = csv.excel  # type: ignore[assignment]
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise UserError(f"not a review file of `autograder review --export`: no column {', '.join(missing)}", path)
    try:
        return [{k: (v or "") for k, v in row.items() if k is not None} for row in reader]
    except csv.Error as exc:
        raise UserError(f"not a readable CSV ({exc})", path) from None


def _points(text: str) -> float | None:
    value = float(text.strip().replace(",", "."))  # a decimal comma, as some spreadsheets write it
    return value if math.isfinite(value) else None


def _check_row(number: int, row: dict[str, str], assignment: Assignment, known: dict[tuple[str, str], _Known],
               students: dict[str, str]) -> tuple[str | None, dict[str, Any] | None]:
    """One row: (the problem, None) or (None, the entry to record; None for a row left blank or unchanged)."""
    student, notebook, gid = (_uncell(row.get(k, "").strip()) for k in ("student", "notebook", "grade_id"))
    points_text, comment = row.get("points", "").strip(), _uncell(row.get("comment", "").strip())
    where = f"row {number}"
    if row.get("assignment", "").strip() != assignment.id:
        return (f"{where} is for assignment {row.get('assignment', '').strip()!r}, not {assignment.id} (a file "
                f"exported for another assignment?)"), None
    name = students.get(student_key(student))
    if name is None and student.isdigit():  # a numeric id whose leading zeros a spreadsheet dropped
        name = next((n for k, n in students.items() if k.isdigit() and k.lstrip("0") == student.lstrip("0")), None)
    if name is None:
        return f"{where}: no student {student!r} has a graded submission of {assignment.id}", None
    part = known.get((name, f"{notebook}::{gid}"))
    if part is None:
        return (f"{where}: {name}'s latest submission of {assignment.id} has no manually graded part "
                f"{gid!r} in {notebook!r}"), None
    if not points_text:
        if comment:
            return f"{where}: a comment but no points for {name}'s {gid} (give the points, or clear the comment)", None
        return None, None
    try:
        points = _points(points_text)
    except ValueError:
        points = None
    if points is None:
        return f"{where}: points {points_text!r} for {name}'s {gid} is not a number", None
    if not 0 <= points <= part.points:
        return f"{where}: points {points_text} for {name}'s {gid} are outside 0 to {part.points:g}", None
    sha = answer_sha(part.answer)
    if row.get("answer_id", "").strip() != answer_id(part.answer):
        return (f"{where}: {name}'s answer to {gid} is not the one this file was exported with (a new submission "
                "or re-grade since): export again"), None
    if part.reviewed is not None and part.reviewed["points"] == points and part.reviewed["comment"] == comment:
        return None, None  # re-imported unchanged: nothing new for the audit trail
    return None, {"student": name, "test_id": part.test_id, "answer_sha": sha, "points": points,
                  "comment": comment}


def import_file(course: Course, assignment: Assignment, path: Path, grader: str | None = None) -> list[str]:
    """Check every row, then record the scores (all or nothing), re-apply the late policy to the students
    concerned and rewrite their result.json and feedback; the lines to print."""
    from .exports import who_am_i

    rows = _read_table(path)
    results = _latest(course, assignment)
    known = {(r.student, t.test_id): _Known(r.student, t.test_id, t.points, r.answers.get(t.test_id, ""), t.manual)
             for r in results for t in _manual(r)}
    students = {student_key(r.student): r.student for r in results}
    problems, entries, seen = [], [], {}
    for number, row in enumerate(rows, start=2):  # row 1 is the header, as a spreadsheet numbers them
        key = (student_key(_uncell(row.get("student", "").strip())), row.get("notebook", "").strip(),
               row.get("grade_id", "").strip())
        if key in seen:
            problems.append(f"row {number} repeats row {seen[key]} ({key[0]}, {key[2]}): keep one of them")
            continue
        seen[key] = number
        problem, entry = _check_row(number, row, assignment, known, students)
        if problem:
            problems.append(problem)
        elif entry:
            entries.append(entry)
    if problems:
        raise UserError("nothing recorded, fix these and import again:\n" + "\n".join(
            f"{path}: {p}." for p in problems))
    author, at = (grader or who_am_i()).strip() or who_am_i(), now_iso()
    with Store(course.root / course.gradebook) as store:
        store.record_reviews(assignment.id, entries, author, at, str(path))
    changed = sorted({e["student"] for e in entries})
    updated = _refresh(course, assignment, changed)
    blank = sum(1 for row in rows if not row.get("points", "").strip())
    lines = [f"recorded {len(entries)} review(s) of {len(changed)} student(s) by {author} at {at}; "
             f"{blank} row(s) left blank stay pending; {len(rows) - len(entries) - blank} unchanged"]
    lines += [f"note: {r.student} has an override ({r.override['points']:g}) that still decides the final score; "
              f"`autograder override` again to change it" for r in updated if r.override is not None]
    return lines


def _refresh(course: Course, assignment: Assignment, students: list[str]) -> list[GradeResult]:
    """The late penalty on the new raw score (checks + reviews), then result.json and both feedback pages."""
    from .grading import apply_late_policy
    from .pages import release_headings
    from .reports import write_feedback, write_result_json

    if not students:
        return []
    with Store(course.root / course.gradebook) as store:
        for r in store.latest(assignment.id):
            if r.student in students:
                store.refresh_lateness(r.student, assignment.id, r.content_hash,
                                       lambda g: apply_late_policy(course, assignment, g, g.submitted_at,
                                                                   g.time_source))
        updated = [r for r in store.latest(assignment.id) if r.student in students]
    headings = release_headings(course.release_dir(assignment), tuple(assignment.notebooks))
    for r in updated:
        write_result_json(course.root, r)
        write_feedback(course.root, r, assignment.title, headings)
    return updated


# --- where things stand ------------------------------------------------------------------------------------

def summary(course: Course, assignment: Assignment) -> list[str]:
    """How many parts are pending, stale and reviewed, and by whom."""
    results = _latest(course, assignment)
    parts = [(r, t) for r in results for t in _manual(r)]
    if not parts:
        return [f"{assignment.id}: no manually graded parts in the gradebook (nothing graded yet, or the "
                "assignment has none)"]
    reviewed = [t for _, t in parts if t.manual is not None]
    stale = [t for _, t in parts if t.manual is None and not _status(t).startswith("pending")]
    pending = len(parts) - len(reviewed)
    waiting = sorted({r.student for r, t in parts if t.manual is None})
    changed = f" ({len(stale)} of them changed since reviewed)" if stale else ""
    lines = [f"{assignment.id}: {len(parts)} manually graded answer(s) of {len(results)} student(s): "
             f"{len(reviewed)} reviewed, {pending} pending{changed}"]
    by = Counter(t.manual["author"] for t in reviewed)
    if by:
        lines.append("reviewed by " + ", ".join(f"{who} ({n})" for who, n in by.most_common()))
    if waiting:
        shown = ", ".join(waiting[:20]) + (f" and {len(waiting) - 20} more" if len(waiting) > 20 else "")
        lines.append(f"waiting: {shown}; `autograder review {assignment.id} --export reviews.csv`")
    with Store(course.root / course.gradebook) as store:
        trail = store.reviews(assignment.id)
    if trail:
        lines.append(f"audit trail: {len(trail)} score(s) recorded, the last at {trail[-1]['at']} by "
                     f"{trail[-1]['author']} from {trail[-1]['source']}")
    return lines


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
