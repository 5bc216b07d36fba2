"""The class roster: ``students.csv`` (optional) and mapping submitted names onto it.

Columns: ``id`` (required), ``first_name``, ``last_name``, ``email``, ``lms_id``, ``section``. A submission is
matched to a roster student by, in order: the LMS's id of the student (Canvas user id, Moodle participant id,
Gradescope SID), the id itself, the e-mail (or its part before ``@``), and the name as LMS downloads write it
(Canvas: ``smithjohn`` from "Smith, John"; Moodle and Gradescope: "John Smith"). Everything compares the way
student ids do (case folded, NFC). Without a roster, names are graded as they come.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from .config import Course
from .errors import UserError
from .students import id_problem, normalise, shown, student_key
from .submissions import Submission, Warn

COLUMNS = ("id", "first_name", "last_name", "email", "lms_id", "section")
LISTED = 8


@dataclass(frozen=True)
class Student:
    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    lms_id: str = ""
    section: str = ""

    @property
    def sortable_name(self) -> str:
        """"Last, First" as Canvas shows it (the id when the roster has no names)."""
        return ", ".join(filter(None, [self.last_name, self.first_name])) or self.id


def _squash(text: str) -> str:
    """A name as Canvas writes it in download names: lowercased, without anything but letters and digits."""
    return re.sub(r"[\W_]+", "", student_key(text))


@dataclass
class Roster:
    students: list[Student] = field(default_factory=list)
    path: Path | None = None

    def __bool__(self) -> bool:
        return bool(self.students)

    def get(self, student: str) -> Student | None:
        key = student_key(student)
        return next((s for s in self.students if student_key(s.id) == key), None)

    def match(self, name: str, lms_id: str = "", email: str = "") -> Student | None:
        """The roster student a submitted name (and the LMS's id and e-mail, when known) stands for, or None."""
        key = student_key(name)
        tests = [
            lambda s: bool(lms_id) and student_key(s.lms_id) == student_key(lms_id),
            lambda s: student_key(s.id) == key,
            lambda s: bool(s.email) and student_key(s.email) in (key, student_key(email)),
            lambda s: bool(s.email) and student_key(s.email.split("@")[0]) == key,
            lambda s: bool(s.last_name or s.first_name) and _squash(name) in (
                _squash(s.last_name + s.first_name), _squash(s.first_name + s.last_name)),
        ]
        for test in tests:
            found = [s for s in self.students if test(s)]
            if len(found) == 1:
                return found[0]
        return None


def load_roster(course: Course) -> Roster:
    """The course's roster, or an empty one when there is no file; one sentence naming the row when it is wrong."""
    path = course.roster_path()
    if not path.is_file():
        return Roster([], None)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read the roster ({exc})", path) from None
    reader = csv.DictReader(text.splitlines())
    header = [normalise(h).lower().replace(" ", "_") for h in reader.fieldnames or []]
    if "id" not in header:
        raise UserError(f"the roster needs an `id` column (columns: {', '.join(COLUMNS)})", path)
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise UserError(f"unknown roster column(s) {', '.join(map(shown, unknown))} (known: {', '.join(COLUMNS)})",
                        path)
    students: list[Student] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(csv.reader(text.splitlines()[1:]), start=2):
        if not any(cell.strip() for cell in row):
            continue
        values = dict(zip(header, (normalise(cell) for cell in row), strict=False))
        student = Student(**{column: values.get(column, "") for column in COLUMNS})
        problem = id_problem(student.id)
        if problem:
            raise UserError(f"line {line}: student id {shown(student.id)} {problem}", path)
        if student_key(student.id) in seen:
            raise UserError(f"line {line}: student {shown(student.id)} is already on line "
                            f"{seen[student_key(student.id)]}", path)
        seen[student_key(student.id)] = line
        students.append(student)
    return Roster(students, path)


def apply_roster(roster: Roster, found: list[Submission], warn: Warn) -> list[Submission]:
    """The submissions filed under roster ids. Names that match nobody are listed in one warning and left out;
    two submissions that turn out to be one student's keep the newest, with a warning. No roster: unchanged."""
    if not roster:
        return found
    kept: dict[str, Submission] = {}
    unmatched: list[str] = []
    doubles: list[str] = []
    for sub in found:
        student = roster.match(sub.student, sub.lms_id, sub.email)
        if student is None:
            unmatched.append(sub.student + (f" ({sub.source.rsplit('/', 1)[-1]})" if sub.source else ""))
            continue
        if sub.student != student.id:
            sub.notes.append(f"filed as {student.id} (the roster's id for {sub.student})")
        sub.student = student.id
        other = kept.get(student.id)
        if other is not None:
            newer, older = (sub, other) if sub.submitted_at >= other.submitted_at else (other, sub)
            doubles.append(f"{student.id}: graded {newer.source.rsplit('/', 1)[-1]}, not "
                           f"{older.source.rsplit('/', 1)[-1]}")
            sub = newer
        kept[student.id] = sub
    if unmatched:
        listed = ", ".join(map(shown, unmatched[:LISTED])) + (f" and {len(unmatched) - LISTED} more"
                                                              if len(unmatched) > LISTED else "")
        warn(f"{len(unmatched)} submission(s) match nobody on the roster {roster.path.name if roster.path else ''} "
             f"and were not graded: {listed}")
    if doubles:
        warn(f"{len(doubles)} student(s) handed in under two names; the newest was graded: " + " | ".join(doubles))
    return sorted(kept.values(), key=lambda s: student_key(s.student))
