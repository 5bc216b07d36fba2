"""`autograder grade`: every submission of an assignment, through the sandbox, into the gradebook.

Resumable by construction: each result is committed to the database (one transaction) and written to
``autograded/`` as soon as it exists, and a submission whose content hash already has a result is skipped. A
grader killed at any point and started again finishes the batch without regrading or duplicating anything.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import pools
from .config import Assignment, Course, tz_of
from .engine import Outcome
from .errors import NotebookError
from .harness import collect_expected, release_notebook
from .i18n import _, course_languages, language_of, use_language
from .notebooks import assignment_of, read_notebook
from .pages import release_headings
from .program import Program, build_program, combine
from .reports import write_feedback, write_result_json
from .results import GradeResult, Status, now_iso
from .review import answers_of
from .roster import apply_roster, load_roster
from .sandboxes import check_backend
from .store import Store
from .students import student_key
from .submissions import Submission, discover
from .testcells import assignment_cells

if TYPE_CHECKING:
    from .testcells import ManualCell

GRADEBOOK = "gradebook.db"


@dataclass
class Batch:
    """What one `grade` run did."""

    results: list[GradeResult] = field(default_factory=list)
    skipped: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)  # what discovery skipped or had to decide, one line each


def prepare_submission(course: Course, assignment: Assignment, submission: Submission,
                       manual: list[ManualCell] | None = None) -> Program:
    """The graded program (what runs, what needs review, what was tampered with, the answers to ``manual``
    parts), or a NotebookError whose message is safe to show the student."""
    if submission.problem or not submission.notebooks:
        raise NotebookError(submission.problem or _("no notebook was submitted"))
    notebooks = []
    for name in assignment.notebooks:
        path = submission.notebooks[name]
        try:
            nb = read_notebook(path)
        except NotebookError as exc:
            raise NotebookError(str(exc).replace(str(path), name)) from None
        stamp = assignment_of(nb)
        if stamp and stamp != assignment.id:
            with use_language(language_of(nb, course_languages(course))):
                raise NotebookError(_("{notebook}: this is a notebook of {stamp}, not of {assignment}", notebook=name,
                                      stamp=stamp, assignment=assignment.id))
        notebooks.append(nb)
    # each notebook against the release it was handed out as (its language's, else the base one)
    releases = [read_notebook(release_notebook(course, assignment, name, nb))
                for name, nb in zip(assignment.notebooks, notebooks, strict=True)]
    parts = [(name, build_program(nb, release))
             for name, nb, release in zip(assignment.notebooks, notebooks, releases, strict=True)]
    program = combine(parts)
    program.lang = language_of(notebooks[0], course_languages(course)) if notebooks else ""
    # Discovery's doubts (which of two notebooks is the work) come first; the score is still computed.
    program.review = [*submission.review, *program.review]
    if manual:  # the student's answers to the manually graded parts, as graded, for `autograder review`
        for (name, part), nb, release in zip(parts, notebooks, releases, strict=True):
            program.answers.update(answers_of(manual, name, nb, release, part))
    return program


def submission_language(course: Course, assignment: Assignment, submission: Submission) -> str:
    """The language of a submission that could not be graded, when its first notebook can still be read."""
    languages = course_languages(course)
    path = submission.notebooks.get(assignment.notebooks[0]) if submission.notebooks else None
    try:
        return language_of(read_notebook(path), languages) if path else languages[0]
    except NotebookError:
        return languages[0]


def _noted(submission: Submission, reason: str) -> str:
    """The result's reason with what discovery decided first (which copy was graded), so student and staff see it."""
    return "; ".join(filter(None, [*submission.notes, reason]))


def _result(submission: Submission, assignment: Assignment, program: Program, outcome: Outcome, started: str,
            backend: str = "local") -> GradeResult:
    common = {"backend": backend, "started_at": started, "duration_s": round(outcome.seconds, 3), "lang": program.lang,
              "output": outcome.output, "check_output": outcome.check_output, "tampered": list(program.tampered)}
    if outcome.error:
        return GradeResult(submission.student, assignment.id, submission.content_hash, Status.error,
                           max_score=outcome.run.max_score, reason=f"grader error: {outcome.error}", **common)
    return GradeResult.from_run(submission.student, assignment.id, submission.content_hash, outcome.run,
                                reason=_noted(submission, outcome.reason), review=list(program.review),
                                answers=dict(program.answers), **common)


def _known_spellings(store: Store, found: list[Submission]) -> None:
    """Each student under the spelling the gradebook first recorded (``Alice`` stays ``Alice`` when a later batch
    has ``alice.ipynb``), so one student is one row however their files are named."""
    known: dict[str, str] = {}
    for name in store.student_names():
        known.setdefault(student_key(name), name)
    known.update(store.aliases())  # names students were renamed from (`autograder students rename`)
    for sub in found:
        sub.student = known.get(student_key(sub.student), sub.student)


def grade(course: Course, assignment: Assignment, *, submissions: Path | None = None, jobs: int | None = None,
          regrade: bool = False, database: Path | None = None, backend: str = "local", image: str | None = None,
          cluster: str | None = None,
          on_total: Callable[[int], None] | None = None,
          on_result: Callable[[GradeResult], None] | None = None,
          on_warning: Callable[[str], None] | None = None) -> Batch:
    """Grade every submission of ``assignment`` that has no result yet (all of them with ``regrade``).

    ``on_warning`` gets each line of what discovery skipped (stray files) or decided (which copy is graded) as soon
    as it is known; the lines are also in ``Batch.warnings``. ``cluster``: a Ray address (``ray://HOST:PORT``,
    ``HOST:PORT`` or ``auto``) whose nodes run the workers; ``jobs`` then defaults to every grader slot it offers
    (1 locally).
    """
    check_backend(backend)  # before anything is read or written
    begin = time.monotonic()
    batch = Batch()

    def warn(line: str) -> None:
        batch.warnings.append(line)
        if on_warning:
            on_warning(line)

    roster = load_roster(course)  # a broken roster stops the batch before anything runs
    found = apply_roster(roster, discover(course, assignment, submissions, warn=warn), warn)
    strangers = [name for name in assignment.extensions if roster and roster.get(name) is None]
    if strangers:
        warn(f"course.yml: extensions of {assignment.id} name student(s) not on the roster: {', '.join(strangers)}")
    total_points = sum(t["points"] for t in collect_expected(course, assignment).values())
    manual = assignment_cells(course, assignment)[1]
    with Store(database or course.root / course.gradebook) as store:
        _known_spellings(store, found)
        todo: list[tuple[Submission, Program]] = []
        for sub in found:
            if not regrade and store.is_done(sub.student, assignment.id, sub.content_hash):
                store.note_submission(sub.student, assignment.id, sub.content_hash, sub.submitted_at, sub.source)
                store.refresh_lateness(sub.student, assignment.id, sub.content_hash,
                                       lambda r, sub=sub: apply_late_policy(course, assignment, r, sub.submitted_at,
                                                                            sub.time_source))
                batch.skipped += 1
                continue
            try:
                todo.append((sub, prepare_submission(course, assignment, sub, manual)))
            except NotebookError as exc:
                result = GradeResult.ungradable(sub.student, assignment.id, sub.content_hash, _noted(sub, str(exc)),
                                                total_points, started_at=now_iso(),
                                                lang=submission_language(course, assignment, sub))
                _save(course, store, sub, result, batch, on_result)
        pool = pools.create(course, assignment, jobs, backend, image, cluster) if todo else None  # checks first
        if on_total:
            on_total(len(todo) + len(batch.results))
        if pool is not None:
            started = {sub.student: now_iso() for sub, _ in todo}
            by_student = {sub.student: (sub, program) for sub, program in todo}
            items = [(sub.student, program.code_cells(), program.lang) for sub, program in todo]
            with contextlib.closing(pool.map(items)) as outcomes:  # an interrupt stops the workers in order
                for student, outcome in outcomes:
                    sub, program = by_student[student]
                    _save(course, store, sub, _result(sub, assignment, program, outcome, started[student], backend),
                          batch, on_result)
            if getattr(pool, "lost_workers", 0):
                warn(f"{pool.lost_workers} grading worker(s) were lost during the batch; what they held was graded "
                     "again elsewhere")
    batch.seconds = time.monotonic() - begin
    return batch


def submitted_moment(course: Course, assignment: Assignment, submitted_at: str) -> dt.datetime | None:
    """A stored submission time as an aware datetime; a naive one (an LMS file name's) is in course time."""
    try:
        moment = dt.datetime.fromisoformat(submitted_at)
    except ValueError:
        return None
    zone = tz_of(assignment.timezone or course.timezone) or dt.UTC
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def apply_late_policy(course: Course, assignment: Assignment, result: GradeResult, submitted_at: str,
                      time_source: str) -> GradeResult:
    """Fill in when it was handed in and due, the lateness and the penalty (graded and needs-review results;
    an ungradable or failed run scores nothing to deduct from)."""
    due = course.due_at(assignment, result.student)
    result.due_at = due.astimezone(dt.UTC).isoformat(timespec="seconds")
    result.time_source = time_source
    moment = submitted_moment(course, assignment, submitted_at)
    result.submitted_at = moment.astimezone(dt.UTC).isoformat(timespec="seconds") if moment else submitted_at
    if moment is None:
        return result
    result.late_seconds = max(0.0, (moment - due).total_seconds())
    if result.status in (Status.graded, Status.needs_review):
        result.penalty = course.late_policy(assignment).deduction(result.score, result.max_score,
                                                                   result.late_seconds)
    return result


def _save(course: Course, store: Store, sub: Submission, result: GradeResult, batch: Batch,
          on_result: Callable[[GradeResult], None] | None) -> None:
    a = course.assignment(result.assignment)
    # Reviews already given to these very answers count (a re-grade keeps them), and the late penalty is on
    # checks + reviews; the gradebook stores the checks' verdicts, and applies the reviews when read.
    shown = apply_late_policy(course, a, store.apply_reviews(result), sub.submitted_at, sub.time_source)
    for name in ("submitted_at", "time_source", "due_at", "late_seconds", "penalty"):
        setattr(result, name, getattr(shown, name))
    write_result_json(course.root, shown)  # files first (atomic); the database commit is what marks it done
    released = course.release_dir(a, result.lang or None)  # headings in the language the student worked in
    with use_language(result.lang):
        write_feedback(course.root, shown, a.title, release_headings(
            released if released.is_dir() else course.release_dir(a), tuple(a.notebooks)))
    store.record(result, sub.submitted_at, sub.source)
    batch.results.append(shown)
    if on_result:
        on_result(shown)
