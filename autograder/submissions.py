"""Finding the submissions of one assignment, as LMSs and nbgrader really deliver them.

Layouts (docs/submissions.md): nbgrader's ``submitted/<student>/<assignment>/`` (the default, or found inside a
``--submissions`` folder or zip), a folder or zip of ``<student>.ipynb`` files (browser copies and case variants
of one student resolved to the newest file; Canvas and Moodle download names read for the student they name), and
Moodle's folder per student. Who a file belongs to is decided in :mod:`autograder.students`.

A submission that cannot be graded (missing, empty or oversized notebook, bad student name) is still returned,
with ``problem`` set, so the batch goes on and the engine records it as ungradable. A submission that can be
graded but where discovery had to guess (two notebooks that could each be the student's work) carries ``review``
reasons, which grading turns into *needs review*. Only a missing, empty or unusable submissions path stops
everything (UserError).
"""

from __future__ import annotations

import atexit
import datetime as dt
import hashlib
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath

from dateutil import parser as date_parser
from dateutil import tz as date_tz

from .config import Assignment, Course
from .errors import NotebookError, UserError
from .notebooks import grade_id, read_notebook
from .program import normalised
from .students import (
    NameInFile,
    normalise,
    notebook_key,
    resolve,
    shown,
    student_key,
    student_of_file,
    student_of_gradescope_folder,
    student_of_moodle_folder,
)

NOTEBOOK_CAP = 20 * 1024**2       # bytes per notebook
ZIP_MAX_ENTRIES = 10_000
ZIP_MAX_TOTAL = 2 * 1024**3       # uncompressed bytes in one zip
TIMESTAMP_FILE = "timestamp.txt"  # written by nbgrader's exchange beside the submitted notebooks
GRADESCOPE_METADATA = "submission_metadata.yml"  # Gradescope's export: who and when, per submission_<id>/ folder
ZIP_MAX_METADATA = 20 * 1024**2
JUNK_FOLDERS = {"__MACOSX", ".ipynb_checkpoints", "__pycache__"}  # never submissions, wherever they are
LISTED = 8                        # names a warning lists before "and N more"
_CHUNK = 1024 * 1024

Warn = Callable[[str], None]


@dataclass
class Submission:
    """One student's submission of one assignment. ``notebooks`` is None exactly when ``problem`` is set.

    ``source`` says where it came from (a folder, a file, or ``zip:member``), for the gradebook's path column.
    ``review``: why a person must look although it can be graded (two notebooks that could each be the work);
    part of the content hash. ``notes``: what discovery decided that the student and staff should know (which
    of several copies was graded). ``lms_id``: the LMS's id of the student when the file name carried one.
    """

    student: str
    notebooks: dict[str, Path] | None
    content_hash: str
    submitted_at: str
    problem: str | None = None
    source: str = ""
    review: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lms_id: str = ""
    # how ``submitted_at`` is known: timestamp.txt, gradescope metadata, zip entry time, file name (an LMS name
    # that carries the time), file modified time
    time_source: str = ""
    lms: str = ""
    email: str = ""


def discover(course: Course, assignment: Assignment, submissions: Path | None = None, *,
             scratch: Path | None = None, warn: Warn | None = None) -> list[Submission]:
    """All submissions of ``assignment``, sorted by student; ``warn`` gets one line per thing skipped or guessed.

    ``submissions`` is None (nbgrader's ``submitted/<student>/<assignment>/``), a folder or a zip. A zip is
    extracted into ``scratch`` (a folder the caller owns); without one, into a temporary folder removed when the
    process exits.
    """
    warn = warn or (lambda _line: None)
    if submissions is None:
        found = _from_nbgrader(course, assignment, course.root / "submitted", warn)
    elif submissions.is_dir():
        found = _from_folder(course, assignment, submissions, warn)
    elif submissions.is_file() and (submissions.suffix.lower() == ".zip" or zipfile.is_zipfile(submissions)):
        found = _from_zip(course, assignment, submissions, scratch or _temporary_folder(), warn)
    elif submissions.exists():
        raise UserError("expected a folder of submissions or a .zip of them", submissions)
    else:
        raise UserError("does not exist", submissions)
    _warn_decisions(found, warn)
    return sorted(found, key=lambda s: (student_key(s.student), s.student))


# --- files that may be submissions --------------------------------------------------------------------------

@dataclass
class _File:
    """A notebook file that may be (part of) a submission: on disk, or unpacked from a zip under a name we chose.

    ``shown``: how notes name it (its path inside the submissions folder or zip). ``defect``: why it cannot be
    read, with ``{name}`` where the name of the notebook it would stand for goes ("{name} is empty").
    """

    shown: str
    name: str
    path: Path
    mtime: float
    defect: str | None = None
    time_source: str = "file modified time"

    def problem(self, name: str) -> str | None:
        return self.defect.replace("{name}", name) if self.defect else None


@dataclass
class _StudentFolder:
    """A folder holding one student's notebooks: nbgrader's ``<student>/<id>/`` or a Moodle download folder."""

    who: NameInFile
    files: list[_File]
    source: str
    timestamp: str | None = None  # nbgrader's timestamp.txt, as ISO-8601 UTC
    mtime: float = 0.0            # the folder's own, for a folder without notebooks
    timestamp_source: str = TIMESTAMP_FILE

    @property
    def time(self) -> str:
        """When it was handed in: nbgrader's timestamp, else its newest notebook's time."""
        return self.timestamp or _iso(max((f.mtime for f in self.files), default=self.mtime))


def _is_notebook(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(".ipynb") and len(name) > len(".ipynb")


def _is_junk(parts: Iterable[str]) -> bool:
    """Folders and files no LMS puts a submission in: macOS metadata, Jupyter checkpoints, hidden files."""
    return any(part in JUNK_FOLDERS or part.startswith(".") for part in parts)


def _size_defect(size: int) -> str | None:
    if size == 0:
        return "{name} is empty"
    if size > NOTEBOOK_CAP:
        return f"{{name}} is {size / 1024**2:.1f} MiB, over the {NOTEBOOK_CAP // 1024**2} MiB limit"
    return None


def _disk_file(path: Path, label: str) -> _File:
    try:
        info = path.lstat()
    except OSError as exc:
        return _File(label, path.name, path, 0.0, f"{{name}} cannot be read ({exc.strerror})")
    if stat.S_ISLNK(info.st_mode):
        defect: str | None = "{name} is a symbolic link"
    elif not stat.S_ISREG(info.st_mode):
        defect = "{name} is not a file"
    else:
        defect = _size_defect(info.st_size)
    return _File(label, path.name, path, info.st_mtime, defect)


def _hash_file(digest: hashlib._Hash, name: str, path: Path) -> str | None:
    """Add the file's bytes to ``digest``; a problem if it cannot be read."""
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        return f"{name} cannot be read ({exc.strerror})"
    return None


def _utc_iso(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def _iso(seconds: float) -> str:
    return _utc_iso(dt.datetime.fromtimestamp(seconds, dt.UTC))


def _names(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``; long lists end with "and N more"."""
    items = [shown(i) for i in items] or ["nothing"]
    if len(items) > LISTED:
        items = [*items[:LISTED], f"{len(items) - LISTED} more"]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# --- a submission from its chosen files ---------------------------------------------------------------------

def _submission(who: NameInFile, files: dict[str, _File | None], submitted_at: str, source: str, *,
                review: Iterable[str] = (), notes: Iterable[str] = (), time_source: str = "") -> Submission:
    """The submission of ``who`` made of ``files`` (notebook name -> file, None when missing), hashed in the
    assignment's notebook order; problems, and reasons for review, are part of the hash."""
    student, name_problem = resolve(who.student)
    problems = [name_problem] if name_problem else []
    digest = hashlib.sha256()
    for name, file in files.items():
        problem = f"{name} is missing" if file is None else file.problem(name) or _hash_file(digest, name, file.path)
        if problem:
            problems.append(problem)
    review = list(review)
    if review:
        digest.update(b"\0review:" + "\n".join(review).encode("utf-8", "surrogateescape"))
    problem = "; ".join(problems) or None
    if problem:
        digest.update(b"\0problem:" + problem.encode("utf-8", "surrogateescape"))
    notebooks = None if problem else {name: file.path for name, file in files.items() if file is not None}
    return Submission(student, notebooks, digest.hexdigest(), submitted_at, problem, source, review, list(notes),
                      who.lms_id, time_source, who.lms, who.email)


def _warn_decisions(found: list[Submission], warn: Warn) -> None:
    """One line for all the guesses of a batch, so a class of 300 does not scroll by."""
    guessed = [f"{s.student}: {'; '.join(s.notes)}" for s in found if s.notes]
    if guessed:
        more = f" | and {len(guessed) - LISTED} more" if len(guessed) > LISTED else ""
        warn(f"{len(guessed)} student(s) handed in copies or renamed notebooks, graded as noted: "
             + " | ".join(guessed[:LISTED]) + more)
    doubtful = [s.student for s in found if s.review]
    if doubtful:
        warn(f"{len(doubtful)} student(s) will need review: more than one notebook could be their work "
             f"({_names(doubtful)})")


def _warn_skipped(warn: Warn, where: Path, skipped: list[str]) -> None:
    if skipped:
        warn(f"{where}: skipped {len(skipped)} item(s) that are not submissions: {_names(sorted(skipped))}")


# --- one student's files: copies, case variants, renamed notebooks -------------------------------------------

def _group(claims: list[tuple[NameInFile, _File]]) -> list[list[tuple[NameInFile, _File]]]:
    """Files per student: spellings that are one student (NFC, case) together; two students who share a name
    but not an LMS id (two John Smiths on Canvas, Moodle's blind marking) apart, named ``<name>_<LMS id>``."""
    by_key: dict[str, list[tuple[NameInFile, _File]]] = {}
    for who, file in claims:
        by_key.setdefault(student_key(who.student), []).append((who, file))
    groups: dict[str, list[tuple[NameInFile, _File]]] = {}
    for key, items in by_key.items():
        if len({who.lms_id for who, _ in items if who.lms_id}) <= 1:
            groups[key] = items
            continue
        for who, file in items:
            if who.lms_id:
                who = NameInFile(f"{who.student}_{who.lms_id}", who.lms, who.lms_id, who.late, who.copy)
            groups.setdefault(student_key(who.student), []).append((who, file))
    return list(groups.values())


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    return digest.hexdigest() if _hash_file(digest, "", path) is None else f"unreadable:{path}"


def _newest(items: list[tuple[NameInFile, _File]], notebook: str, source: Callable[[_File], str]) -> Submission:
    """A student's submission among their files in a flat folder: the newest (then the highest copy number)."""
    items = sorted(items, key=lambda item: (item[1].mtime, item[0].copy, item[1].shown))
    who, chosen = items[-1]
    notes, review = [], []
    if len(items) > 1:
        others = [file.shown for _, file in items[:-1]]
        notes.append(f"graded {chosen.shown}, the newest of {len(items)} files; not graded: {_names(others)}")
        tied = [file for _, file in items if file.mtime == chosen.mtime]
        if len(tied) > 1 and len({_digest(file.path) for file in tied}) > 1:
            review.append(f"{_names(sorted(f.shown for f in tied))} were handed in at the same time and differ; "
                          f"{chosen.shown} was graded")
    # timestamp.txt is not in a flat folder; then the zip entry's time, the LMS name's, the file's own
    if chosen.time_source != "zip entry time" and who.time:
        when, time_source = who.time, "file name"
    else:
        when, time_source = _iso(chosen.mtime), chosen.time_source
    return _submission(who, {notebook: chosen}, when, source(chosen), review=review, notes=notes,
                       time_source=time_source)


@dataclass(frozen=True)
class _Cells:
    """What tells notebooks apart: their grade ids, and every cell's normalised source."""

    grade_ids: frozenset[str]
    text: tuple[str, ...]


def _cells_of(path: Path) -> _Cells | None:
    try:
        nb = read_notebook(path, NOTEBOOK_CAP)
    except NotebookError:
        return None
    return _Cells(frozenset(gid for cell in nb.cells if (gid := grade_id(cell))),
                  tuple(normalised(cell.source) for cell in nb.cells))


class _Chooser:
    """Which files of a student's folder stand for which notebooks of the assignment.

    One notebook: any notebook of the folder may be it. Several: each file goes to the notebook whose grade ids it
    shares most, else to the one its name matches up to case and copy marks. Among the candidates for one
    notebook, empty or unreadable files and copies identical to the release are set aside while another remains;
    then one piece of work (however many identical copies) is graded, with a note if renamed, and several
    different ones are *needs review* naming them all, the newest graded.
    """

    def __init__(self, course: Course, assignment: Assignment):
        self.expected = list(assignment.notebooks)
        self.release_dir = course.release_dir(assignment)
        self.release_dirs = [course.release_dir(assignment, lang) for lang in course.languages]
        self._cells: dict[Path, _Cells | None] = {}

    @cached_property
    def release(self) -> dict[str, _Cells | None]:
        """The released notebooks' cells, read only when a folder has a choice to make."""
        return {name: _cells_of(self.release_dir / name) for name in self.expected}

    @cached_property
    def release_texts(self) -> dict[str, list[tuple[str, ...]]]:
        """The released notebooks' texts in every language of the course (an untouched copy of any is no work)."""
        return {name: [cells.text for folder in self.release_dirs if (cells := _cells_of(folder / name))]
                for name in self.expected}

    def cells(self, file: _File) -> _Cells | None:
        if file.path not in self._cells:
            self._cells[file.path] = None if file.defect else _cells_of(file.path)
        return self._cells[file.path]

    def target(self, file: _File) -> str | None:
        cells = self.cells(file)
        ids = cells.grade_ids if cells else frozenset()
        shared = {name: len(ids & r.grade_ids) for name, r in self.release.items() if r is not None}
        most = max(shared.values(), default=0)
        if most and list(shared.values()).count(most) == 1:
            return next(name for name, count in shared.items() if count == most)
        by_name = [name for name in self.expected if notebook_key(name) == notebook_key(file.name)]
        return by_name[0] if by_name else None

    def choose(self, files: list[_File]) -> tuple[dict[str, _File | None], list[str], list[str]]:
        """(notebook name -> file or None, review reasons, notes)."""
        candidates: dict[str, list[_File]] = {name: [] for name in self.expected}
        unmatched = []
        for file in files:
            name = self.expected[0] if len(self.expected) == 1 else self.target(file)
            (candidates[name] if name else unmatched).append(file)
        chosen: dict[str, _File | None] = {}
        review: list[str] = []
        notes: list[str] = []
        for name in self.expected:
            chosen[name] = self.pick(name, candidates[name], review, notes)
        if unmatched:
            notes.append(f"not graded: {_names([f.name for f in unmatched])} (none of the assignment's notebooks)")
        return chosen, review, notes

    def unchanged(self, name: str, file: _File) -> bool:
        cells = self.cells(file)
        return cells is not None and cells.text in self.release_texts.get(name, [])

    def pick(self, name: str, files: list[_File], review: list[str], notes: list[str]) -> _File | None:
        """The file graded as notebook ``name`` among its candidates; a note or a review reason when there was a
        choice to make."""
        usable = [f for f in files if f.defect is None]
        if len(files) > len(usable) and usable:
            notes.append(f"not graded: {_names([f.name for f in files if f.defect])} (empty or unreadable)")
            files = usable
        if len(files) <= 1:
            if files and files[0].name != name:
                notes.append(f"graded {files[0].name} as {name}")
            return files[0] if files else None
        worked = [f for f in files if not self.unchanged(name, f)]
        if not worked:
            chosen = max(files, key=lambda f: (f.name == name, f.mtime, f.name))
            notes.append(f"{_names(sorted(f.name for f in files))} are unchanged from the release; "
                         f"graded {chosen.name}")
            return chosen
        untouched = sorted(f.name for f in files if f not in worked)
        versions = {cells.text if (cells := self.cells(f)) else f.path for f in worked}
        if len(versions) > 1:
            chosen = max(worked, key=lambda f: (self.cells(f) is not None, f.mtime, f.name == name, f.name))
            review.append(f"{len(worked)} notebooks could be {name}: {_names(sorted(f.name for f in worked))}; "
                          f"{chosen.name}, the newest, was graded")
            return chosen
        chosen = max(worked, key=lambda f: (f.name == name, f.mtime, f.name))  # copies of one piece of work
        copies = sorted(f.name for f in worked if f is not chosen)
        if chosen.name != name or untouched or copies:
            notes.append(f"graded {chosen.name}" + (f" as {name}" if chosen.name != name else "")
                         + (f"; {_names(untouched)} unchanged from the release" if untouched else "")
                         + (f"; {_names(copies)} identical to it" if copies else ""))
        return chosen


# --- nbgrader's layout: <base>/<student>/<assignment>/ -----------------------------------------------------------

def _read_timestamp(folder: Path) -> str | None:
    """nbgrader's ``timestamp.txt`` (``2026-01-05 12:34:56.123456 UTC``) as ISO-8601 UTC; None if absent or bad."""
    try:
        with (folder / TIMESTAMP_FILE).open("rb") as handle:
            return _timestamp(handle.read(200))
    except OSError:
        return None


def _timestamp(data: bytes) -> str | None:
    try:
        return _utc_iso(_parse_nbgrader_time(data.decode("utf-8").strip()))
    except (UnicodeDecodeError, ValueError, OverflowError):
        return None


def _parse_nbgrader_time(text: str) -> dt.datetime:
    """As nbgrader's ``parse_utc``: a trailing zone name or numeric offset; naive times are UTC."""
    parts = text.split(" ")
    if len(parts) == 3:
        zone = date_tz.tzoffset(None, _offset_seconds(parts[2])) if re.fullmatch(r"[+-]\d{4}", parts[2]) \
            else date_tz.gettz(parts[2])
        if zone is None:
            raise ValueError(f"unknown time zone {parts[2]!r}")
        return date_parser.parse(" ".join(parts[:2])).replace(tzinfo=zone)
    return date_parser.parse(text)


def _offset_seconds(offset: str) -> int:
    sign = -1 if offset[0] == "-" else 1
    return sign * (int(offset[1:3]) * 3600 + int(offset[3:5]) * 60)


def _disk_folder(who: NameInFile, folder: Path, label: str, timestamp: str | None = None) -> _StudentFolder:
    """A student's folder on disk and the notebooks directly in it (never hidden files or checkpoints)."""
    try:
        entries, mtime = sorted(folder.iterdir()), folder.lstat().st_mtime
    except OSError:
        entries, mtime = [], 0.0
    notebooks = [_disk_file(p, f"{label}/{p.name}") for p in entries
                 if _is_notebook(p.name) and (p.is_symlink() or not p.is_dir())]
    return _StudentFolder(who, notebooks, str(folder), timestamp, mtime)


def _nbgrader_base(course: Course, assignment: Assignment, folder: Path) -> Path | None:
    """Where nbgrader's ``<student>/<assignment>/`` folders are, if ``folder`` is or holds that layout."""
    if folder.resolve() == course.root.resolve():
        return folder / "submitted"
    for base in (folder, folder / "submitted"):
        try:
            if any((d / assignment.id).is_dir() for d in base.iterdir() if not d.name.startswith(".")):
                return base
        except OSError:
            continue
    return None


def _from_nbgrader(course: Course, assignment: Assignment, base: Path, warn: Warn) -> list[Submission]:
    if not base.is_dir():
        raise UserError("no submitted/ folder (nbgrader's submitted/<student>/<assignment>/); "
                        "pass the submissions folder or zip instead", base)
    folders, skipped = [], []
    for student_dir in _entries(base):
        if not student_dir.is_dir() or student_dir.is_symlink() or _is_junk([student_dir.name]):
            skipped.append(student_dir.name + ("/" if student_dir.is_dir() else ""))
            continue
        folder = student_dir / assignment.id
        if folder.is_dir() and not folder.is_symlink():  # else this student did not submit this assignment
            folders.append(_disk_folder(NameInFile(normalise(student_dir.name)), folder, student_dir.name,
                                        _read_timestamp(folder)))
    if not folders:
        raise UserError(f"no submissions of {assignment.id} (nbgrader's layout is "
                        f"<student>/{assignment.id}/<notebook>)", base)
    _warn_skipped(warn, base, skipped)
    return _from_student_folders(course, assignment, folders)


def _from_student_folders(course: Course, assignment: Assignment, folders: list[_StudentFolder]
                          ) -> list[Submission]:
    """A submission per student: the newest of a student's folders (``Alice/`` and ``alice/`` are one student),
    its notebooks chosen by :class:`_Chooser`."""
    chooser = _Chooser(course, assignment)
    by_key: dict[str, list[_StudentFolder]] = {}
    for folder in folders:
        by_key.setdefault(student_key(folder.who.student), []).append(folder)
    found = []
    for group in by_key.values():
        group.sort(key=lambda f: (f.time, f.source))
        folder = group[-1]
        files, review, notes = chooser.choose(folder.files)
        if len(group) > 1:
            notes.insert(0, f"graded {folder.source}, the newest of {len(group)} folders; not graded: "
                         + _names([f.source for f in group[:-1]]))
        graded = [f for f in files.values() if f is not None and f.defect is None]
        newest = max(graded, key=lambda f: f.mtime) if graded else None
        if folder.timestamp:
            when, time_source = folder.timestamp, folder.timestamp_source
        elif newest is not None:
            when, time_source = _iso(newest.mtime), newest.time_source
        else:
            when, time_source = folder.time, "folder modified time"
        found.append(_submission(folder.who, files, when, folder.source, review=review, notes=notes,
                                 time_source=time_source))
    return found


# --- a folder of submissions ----------------------------------------------------------------------------------

def _one_notebook(assignment: Assignment, where: Path) -> str:
    if len(assignment.notebooks) != 1:
        raise UserError(f"{assignment.id} has {len(assignment.notebooks)} notebooks; a folder or zip of "
                        "<student>.ipynb files only works for one-notebook assignments (use nbgrader's "
                        f"<student>/{assignment.id}/ layout)", where)
    return assignment.notebooks[0]


def _from_folder(course: Course, assignment: Assignment, folder: Path, warn: Warn) -> list[Submission]:
    """``<student>.ipynb`` files and Moodle's per-student folders directly in ``folder``, or nbgrader's layout."""
    base = _nbgrader_base(course, assignment, folder)
    if base is not None:
        return _from_nbgrader(course, assignment, base, warn)
    claims, moodle, others, skipped = [], [], [], []
    metadata = _gradescope_metadata_file(folder / GRADESCOPE_METADATA)
    for entry in _entries(folder):
        is_dir = entry.is_dir() and not entry.is_symlink()
        who = _lms_folder(entry.name, metadata) if is_dir else None
        if entry.name == GRADESCOPE_METADATA and metadata:
            continue
        if _is_junk([entry.name]) or (not is_dir and not _is_notebook(entry.name)):
            skipped.append(entry.name + ("/" if is_dir else ""))
        elif who is not None:
            moodle.append(_lms_student_folder(who, entry))
        elif is_dir:
            others.append(entry)
        else:
            claims.append((student_of_file(entry.name), _disk_file(entry, entry.name)))
    if not claims and not moodle:
        raise _nothing_in(folder, others, skipped, assignment)
    expected = {notebook_key(name) for name in assignment.notebooks}
    if folder.name == assignment.id and claims and all(notebook_key(f.name) in expected for _, f in claims):
        raise UserError(f"is one student's folder in nbgrader's layout (<student>/{assignment.id}/), not a folder "
                        f"of submissions; pass the folder that holds the students' folders: "
                        f"--submissions {folder.parent.parent}", folder)
    _warn_skipped(warn, folder, skipped + [f"{d.name}/" for d in others])
    found = _from_student_folders(course, assignment, moodle) if moodle else []
    if claims:
        notebook = _one_notebook(assignment, folder)
        found += [_newest(items, notebook, lambda f: str(f.path)) for items in _group(claims)]
    return found


def _entries(folder: Path) -> list[Path]:
    """The folder's entries, sorted; an unreadable folder is the user's one-sentence error."""
    try:
        return sorted(folder.iterdir())
    except OSError as exc:
        raise UserError(f"cannot be read ({exc.strerror})", folder) from None


def _listing(folder: Path) -> list[str]:
    try:
        return [p.name for p in folder.iterdir()]
    except OSError:
        return []


def _nothing_in(folder: Path, subfolders: list[Path], skipped: list[str], assignment: Assignment) -> UserError:
    """The one sentence for a folder with nothing to grade: empty, only other files, or notebooks deeper down."""
    deeper = [d for d in subfolders if any(_is_notebook(name) for name in _listing(d))]
    if len(deeper) == 1:
        return UserError(f"has no notebooks itself, but its folder {deeper[0].name}/ has; pass "
                         f"--submissions {deeper[0]}", folder)
    if deeper:
        return UserError(f"has no notebooks itself, but {len(deeper)} of its folders have "
                         f"({_names([d.name + '/' for d in deeper])}); pass a folder of <student>.ipynb files, or "
                         f"arrange one folder per student as nbgrader does: <student>/{assignment.id}/<notebook>",
                         folder)
    others = sorted(skipped + [d.name + "/" for d in subfolders])
    if others:
        return UserError(f"holds no notebooks (.ipynb) to grade, only {_names(others)}", folder)
    return UserError("is empty: there are no submissions to grade", folder)


# --- Gradescope's export: submission_<id>/ folders and submission_metadata.yml ------------------------------------

def _lms_folder(name: str, metadata: dict[str, dict[str, str]]) -> NameInFile | None:
    return student_of_moodle_folder(name) or student_of_gradescope_folder(name, metadata)


def _lms_student_folder(who: NameInFile, folder: Path) -> _StudentFolder:
    found = _disk_folder(who, folder, folder.name)
    if who.time:
        found.timestamp, found.timestamp_source = who.time, "gradescope metadata"
    return found


def _gradescope_metadata_file(path: Path) -> dict[str, dict[str, str]]:
    try:
        if not path.is_file() or path.stat().st_size > ZIP_MAX_METADATA:
            return {}
        return _gradescope_metadata(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return {}


def _gradescope_metadata(text: str) -> dict[str, dict[str, str]]:
    """``submission_<id>`` -> name, sid, email and time (ISO UTC) of its first submitter, from Gradescope's
    submission_metadata.yml (Ruby symbol keys such as ``:submitters:``); {} when it cannot be read."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    found: dict[str, dict[str, str]] = {}
    for key, entry in (data or {}).items() if isinstance(data, dict) else ():
        if not isinstance(entry, dict):
            continue
        entry = {str(k).lstrip(":"): v for k, v in entry.items()}
        people = entry.get("submitters") or [{}]
        first = {str(k).lstrip(":"): v for k, v in people[0].items()} if isinstance(people[0], dict) else {}
        created = entry.get("created_at")
        try:
            when = _utc_iso(created) if isinstance(created, dt.datetime) else \
                _utc_iso(date_parser.parse(str(created))) if created else ""
        except (ValueError, OverflowError):
            when = ""
        found[str(key)] = {"name": str(first.get("name") or ""), "sid": str(first.get("sid") or ""),
                           "email": str(first.get("email") or ""), "time": when}
    return found


# --- a zip of submissions -------------------------------------------------------------------------------------

def _temporary_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="ag-submissions-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _zip_time(info: zipfile.ZipInfo) -> float:
    """An entry's modification time; zips store no time zone, so it is taken as UTC."""
    try:
        return dt.datetime(*info.date_time, tzinfo=dt.UTC).timestamp()
    except ValueError:
        return dt.datetime(1980, 1, 1, tzinfo=dt.UTC).timestamp()  # the zip format's "no date"


def _check_zip(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    """Refuse the whole zip when it is not a plain export: too big, or entries that could escape a folder."""
    if len(infos) > ZIP_MAX_ENTRIES:
        raise UserError(f"has {len(infos)} entries, over the limit of {ZIP_MAX_ENTRIES}", path)
    total = sum(i.file_size for i in infos)
    if total > ZIP_MAX_TOTAL:
        raise UserError(f"would unpack to {total / 1024**3:.1f} GiB, over the {ZIP_MAX_TOTAL // 1024**3} GiB limit",
                        path)
    for info in infos:
        name = info.filename.replace("\\", "/")
        if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in name.split("/"):
            raise UserError(f"entry {shown(info.filename)} points outside the zip; refusing to unpack it", path)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UserError(f"entry {shown(info.filename)} is a symbolic link; refusing to unpack it", path)


def _unpack(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> str | None:
    """Copy one entry to ``target`` (a path we chose, never the entry's name); a defect or None."""
    defect = _size_defect(info.file_size)
    if defect:
        return defect
    written = 0
    try:
        with archive.open(info) as source, target.open("wb") as sink:
            while chunk := source.read(_CHUNK):
                written += len(chunk)
                if written > NOTEBOOK_CAP:
                    defect = f"{{name}} unpacks to over the {NOTEBOOK_CAP // 1024**2} MiB limit"
                    break
                sink.write(chunk)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as exc:
        defect = f"{{name}} cannot be unpacked ({exc})"
    if defect:
        target.unlink(missing_ok=True)
    return defect


def _from_zip(course: Course, assignment: Assignment, path: Path, scratch: Path, warn: Warn) -> list[Submission]:
    """Like a folder, anywhere in the zip: nbgrader's ``<student>/<id>/`` folders if there are any, else Moodle's
    per-student folders and ``<student>.ipynb`` files (by their own name, whatever folder they are in)."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UserError(f"not a readable zip file ({exc})", path) from None
    with archive:
        infos = archive.infolist()
        _check_zip(path, infos)
        entries = [(PurePosixPath(i.filename.replace("\\", "/")).parts, i) for i in infos if not i.is_dir()]
        notebooks = [(parts, info) for parts, info in entries if not _is_junk(parts) and _is_notebook(parts[-1])]
        nbgrader = [(parts, info) for parts, info in notebooks if len(parts) >= 3 and parts[-2] == assignment.id]
        stamps = {parts[:-1]: info for parts, info in entries
                  if nbgrader and len(parts) >= 3 and parts[-2] == assignment.id and parts[-1] == TIMESTAMP_FILE}
        used = nbgrader or notebooks
        known = {id(info) for _, info in used} | {id(info) for info in stamps.values()}
        skipped = sorted(info.filename for _, info in entries if id(info) not in known)
        if not used:
            raise UserError("holds no notebooks (.ipynb) to grade" + (f", only {_names(skipped)}" if skipped else ""),
                            path)
        scratch.mkdir(parents=True, exist_ok=True)
        files: dict[int, _File] = {}
        for index, (parts, info) in enumerate(used):
            target = scratch / f"{index:05d}.ipynb"
            files[id(info)] = _File(info.filename, parts[-1], target, _zip_time(info), _unpack(archive, info, target),
                                    "zip entry time")
        times = {}
        for folder, info in stamps.items():
            with archive.open(info) as stamp:
                times[folder] = _timestamp(stamp.read(200))
        metadata: dict[str, dict[str, str]] = {}
        for parts, info in entries:
            if parts[-1] == GRADESCOPE_METADATA and info.file_size < ZIP_MAX_METADATA:
                with archive.open(info) as meta:
                    metadata.update(_gradescope_metadata(meta.read().decode("utf-8", "replace")))
                skipped = [name for name in skipped if name != info.filename]
    _warn_skipped(warn, path, skipped)
    folders: dict[tuple[str, ...], _StudentFolder] = {}
    claims = []
    for parts, info in used:
        folder = parts[:-1]
        who = NameInFile(normalise(parts[-3])) if nbgrader else \
            _lms_folder(parts[-2], metadata) if len(parts) >= 2 else None
        if who is None:
            claims.append((student_of_file(parts[-1]), files[id(info)]))
            continue
        if folder not in folders:
            stamp, stamp_source = times.get(folder), TIMESTAMP_FILE
            if who.time and not stamp:
                stamp, stamp_source = who.time, "gradescope metadata"
            folders[folder] = _StudentFolder(who, [], "zip:" + "/".join(folder) + "/", stamp, 0.0, stamp_source)
        folders[folder].files.append(files[id(info)])
    found = _from_student_folders(course, assignment, list(folders.values())) if folders else []
    if claims:
        notebook = _one_notebook(assignment, path)
        found += [_newest(items, notebook, lambda f: f"zip:{f.shown}") for items in _group(claims)]
    return found
