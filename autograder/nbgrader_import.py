"""`autograder import-nbgrader DIR`: an nbgrader course directory, as it is, into course.yml.

nbgrader keeps an assignment as ``source/<assignment>/*.ipynb``; its ``nbgrader_config.py`` may name the course
(``CourseDirectory.course_id``) and list assignments with due dates and students (``db_assignments``,
``db_students``); its ``gradebook.db`` holds the same once ``generate_assignment`` ran. This module reads all
three (the config file with traitlets' own loader, the database with nbgrader's ``Gradebook``) and writes a
course.yml that lists every assignment with its notebooks and dates. Grading then reads nbgrader's
``submitted/<student>/<assignment>/`` folders (and their ``timestamp.txt``) unchanged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .config import COURSE_FILE, parse_course
from .errors import ConfigError, UserError

OUR_GRADEBOOK = "autograder.db"  # beside nbgrader's gradebook.db, which is left untouched
DEFAULT_DAYS = 7  # from release to due date, when nbgrader knows only one of them (or neither)


@dataclass
class NbgraderCourse:
    """What was read from the nbgrader course directory."""

    title: str
    assignments: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {notebooks, due}
    students: dict[str, dict[str, str]] = field(default_factory=dict)     # id -> {first_name, last_name, email}
    notes: list[str] = field(default_factory=list)
    has_gradebook: bool = False  # nbgrader's gradebook.db is in the folder


def _date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        from nbgrader.utils import parse_utc

        return parse_utc(str(value)).date()
    except Exception:  # noqa: BLE001 - nbgrader's parser raises several types on odd text
        return None


def _config(folder: Path, course: NbgraderCourse) -> None:
    path = folder / "nbgrader_config.py"
    if not path.is_file():
        return
    from traitlets.config.loader import PyFileConfigLoader

    try:
        config = PyFileConfigLoader(path.name, str(folder)).load_config()
    except Exception as exc:  # noqa: BLE001 - the instructor's own Python: any error, one sentence
        raise UserError(f"cannot read nbgrader's configuration ({type(exc).__name__}: {exc})", path) from None
    coursedir = config.get("CourseDirectory", {})
    if coursedir.get("course_id"):
        course.title = str(coursedir["course_id"])
    for entry in coursedir.get("db_assignments", []) or []:
        if isinstance(entry, dict) and entry.get("name"):
            course.assignments.setdefault(str(entry["name"]), {})["due"] = _date(entry.get("duedate"))
    for entry in coursedir.get("db_students", []) or []:
        if isinstance(entry, dict) and entry.get("id"):
            course.students[str(entry["id"])] = {k: str(entry.get(k) or "") for k in
                                                 ("first_name", "last_name", "email")}


def _gradebook(folder: Path, course: NbgraderCourse) -> None:
    path = folder / "gradebook.db"
    if not path.is_file():
        return
    from nbgrader.api import Gradebook

    course.has_gradebook = True
    try:
        with Gradebook(f"sqlite:///{path.resolve()}") as gradebook:
            for assignment in gradebook.assignments:
                known = course.assignments.setdefault(assignment.name, {})
                known["due"] = _date(assignment.duedate) or known.get("due")
            for student in gradebook.students:
                course.students[student.id] = {"first_name": student.first_name or "",
                                               "last_name": student.last_name or "", "email": student.email or ""}
    except Exception as exc:  # noqa: BLE001 - an old or damaged database: one sentence
        raise UserError(f"cannot read nbgrader's gradebook ({type(exc).__name__})", path) from None


def read_course(folder: Path) -> NbgraderCourse:
    """The course as nbgrader describes it: source folders, configuration, gradebook."""
    folder = Path(folder)
    source = folder / "source"
    if not source.is_dir():
        raise UserError("not an nbgrader course directory (no source/ folder)", folder)
    course = NbgraderCourse(title=folder.resolve().name)
    _config(folder, course)
    _gradebook(folder, course)
    for sub in sorted(p for p in source.iterdir() if p.is_dir()):
        notebooks = sorted(p.relative_to(sub).as_posix() for p in sub.rglob("*.ipynb")
                           if ".ipynb_checkpoints" not in p.parts)
        if notebooks:
            course.assignments.setdefault(sub.name, {})["notebooks"] = notebooks
    for name in [n for n, a in course.assignments.items() if not a.get("notebooks")]:
        course.notes.append(f"{name}: listed by nbgrader but has no notebooks in source/{name}/; left out")
        del course.assignments[name]
    if not course.assignments:
        raise UserError("no assignment in source/ has a notebook", source)
    return course


def course_data(course: NbgraderCourse, today: dt.date | None = None) -> dict[str, Any]:
    """course.yml's content. Dates nbgrader does not know: released today, due a week later (noted)."""
    today = today or dt.date.today()
    assignments = []
    for name, info in course.assignments.items():
        due = info.get("due")
        if due is None:
            course.notes.append(f"{name}: no due date in nbgrader; set release and due in {COURSE_FILE}")
        release = (due - dt.timedelta(days=DEFAULT_DAYS)) if due else today
        assignments.append({"id": name, "title": name, "notebooks": info["notebooks"],
                            "release": release.isoformat(),
                            "due": (due or today + dt.timedelta(days=DEFAULT_DAYS)).isoformat()})
    data: dict[str, Any] = {"title": course.title}
    if course.has_gradebook:  # nbgrader's own gradebook.db stays as it is; ours is another file
        data["gradebook"] = OUR_GRADEBOOK
    return {**data, "assignments": assignments}


def import_nbgrader(folder: Path, force: bool = False) -> tuple[Path, list[str]]:
    """Write ``DIR/course.yml``; return its path and what the instructor should look at."""
    folder = Path(folder)
    target = folder / COURSE_FILE
    if target.exists() and not force:
        raise UserError(f"{COURSE_FILE} already exists (use --force to replace it)", target)
    course = read_course(folder)
    data = course_data(course)
    try:
        parse_course(data, target)  # every id and date checked before anything is written
    except ConfigError as exc:
        raise UserError(f"the nbgrader course cannot be imported: {exc}") from None
    header = "# Imported from an nbgrader course directory by `autograder import-nbgrader`.\n"
    target.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    if course.students:  # (the course has no roster file yet; grading names students by their folders)
        course.notes.append(f"nbgrader knows {len(course.students)} student(s): "
                            + ", ".join(sorted(course.students)[:10]) + (" …" if len(course.students) > 10 else ""))
    return target, course.notes
