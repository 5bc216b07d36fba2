"""Finding the submissions of one assignment: nbgrader's submitted/ folder, an LMS folder, or an LMS zip.

A submission that cannot be graded (missing, empty or oversized notebook, bad student name) is still
returned, with ``problem`` set, so the batch goes on and the engine records it as ungradable. Only a
missing or unusable submissions path stops everything (UserError).
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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from dateutil import parser as date_parser
from dateutil import tz as date_tz

from .config import Assignment, Course
from .errors import UserError

NOTEBOOK_CAP = 20 * 1024**2       # bytes per notebook
ZIP_MAX_ENTRIES = 10_000
ZIP_MAX_TOTAL = 2 * 1024**3       # uncompressed bytes in one zip
TIMESTAMP_FILE = "timestamp.txt"  # written by nbgrader's exchange beside the submitted notebooks
STUDENT_NAME = re.compile(r"^[A-Za-z0-9._@+-]+$")
_CHUNK = 1024 * 1024


@dataclass
class Submission:
    """One student's submission of one assignment. ``notebooks`` is None exactly when ``problem`` is set.

    ``source`` says where it came from (a folder, a file, or ``zip:member``), for the gradebook's path column.
    """

    student: str
    notebooks: dict[str, Path] | None
    content_hash: str
    submitted_at: str
    problem: str | None = None
    source: str = ""


def discover(course: Course, assignment: Assignment, submissions: Path | None = None, *,
             scratch: Path | None = None) -> list[Submission]:
    """All submissions of ``assignment``, sorted by student.

    ``submissions`` is None (nbgrader's ``submitted/<student>/<assignment>/``), a folder of ``<student>.ipynb``
    files, or a zip of them. A zip is extracted into ``scratch`` (a folder the caller owns); without one, into
    a temporary folder removed when the process exits.
    """
    if submissions is None:
        found = _from_nbgrader(course.root / "submitted", assignment)
    elif submissions.is_dir():
        found = _from_folder(submissions, _single_notebook(assignment, submissions))
    elif submissions.is_file() and (submissions.suffix.lower() == ".zip" or zipfile.is_zipfile(submissions)):
        found = _from_zip(submissions, _single_notebook(assignment, submissions), scratch or _temporary_folder())
    elif submissions.exists():
        raise UserError("expected a folder of <student>.ipynb files or a .zip of them", submissions)
    else:
        raise UserError("does not exist", submissions)
    return sorted(found, key=lambda s: s.student)


# --- shared checks ------------------------------------------------------------------------------------------

def _show(name: str) -> str:
    """A name from outside, safe to put in a one-line message."""
    return name if name.isprintable() and name.strip() == name and name else repr(name)


def student_name(raw: str) -> tuple[str, str | None]:
    """(name to file results under, problem): an unusable name becomes a unique, path-safe stand-in."""
    if STUDENT_NAME.fullmatch(raw) and raw not in (".", ".."):
        return raw, None
    safe = re.sub(r"[^A-Za-z0-9._@+-]", "_", raw)[:40]
    digest = hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return (f"invalid-{safe}-{digest}",
            f"student name {raw!r} is not allowed (only letters, digits and . _ @ + -)")


def _size_problem(name: str, size: int) -> str | None:
    if size == 0:
        return f"{name} is empty"
    if size > NOTEBOOK_CAP:
        return f"{name} is {size / 1024**2:.1f} MiB, over the {NOTEBOOK_CAP // 1024**2} MiB limit"
    return None


def _file_problem(name: str, path: Path) -> str | None:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return f"{name} is missing"
    except OSError as exc:
        return f"{name} cannot be read ({exc.strerror})"
    if stat.S_ISLNK(info.st_mode):
        return f"{name} is a symbolic link"
    if not stat.S_ISREG(info.st_mode):
        return f"{name} is not a file"
    return _size_problem(name, info.st_size)


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


def _mtime_iso(paths: Iterable[Path], fallback: Path) -> str:
    times = [p.lstat().st_mtime for p in paths if p.is_file() and not p.is_symlink()]
    return _utc_iso(dt.datetime.fromtimestamp(max(times) if times else fallback.lstat().st_mtime, dt.UTC))


def _from_files(raw_student: str, files: dict[str, Path], submitted_at: str | None, source: Path) -> Submission:
    """A submission from notebooks on disk: hash what exists, note what is wrong."""
    student, name_problem = student_name(raw_student)
    problems = [name_problem] if name_problem else []
    digest = hashlib.sha256()
    for name, path in files.items():
        problem = _file_problem(name, path)
        if problem is None or (path.is_file() and not path.is_symlink()):
            problem = _hash_file(digest, name, path) or problem
        if problem:
            problems.append(problem)
    return _finish(student, files, digest, problems, submitted_at or _mtime_iso(files.values(), source),
                   str(source))


def _finish(student: str, notebooks: dict[str, Path], digest: hashlib._Hash, problems: list[str],
            submitted_at: str, source: str) -> Submission:
    problem = "; ".join(problems) or None
    if problem:
        digest.update(b"\0problem:" + problem.encode("utf-8", "surrogateescape"))
    return Submission(student, None if problem else notebooks, digest.hexdigest(), submitted_at, problem, source)


# --- nbgrader's submitted/ folder ---------------------------------------------------------------------------

def _read_timestamp(folder: Path) -> str | None:
    """nbgrader's ``timestamp.txt`` (``2026-01-05 12:34:56.123456 UTC``) as ISO-8601 UTC; None if absent or bad."""
    try:
        with (folder / TIMESTAMP_FILE).open("rb") as handle:
            text = handle.read(200).decode("utf-8").strip()
        return _utc_iso(_parse_nbgrader_time(text))
    except (OSError, UnicodeDecodeError, ValueError, OverflowError):
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


def _from_nbgrader(base: Path, assignment: Assignment) -> list[Submission]:
    if not base.is_dir():
        raise UserError("no submitted/ folder (nbgrader's submitted/<student>/<assignment>/); "
                        "pass the submissions folder or zip instead", base)
    found = []
    for student_dir in sorted(base.iterdir()):
        folder = student_dir / assignment.id
        if student_dir.name.startswith(".") or not student_dir.is_dir() or not folder.is_dir():
            continue  # not a student, or this student did not submit this assignment
        files = {name: folder / name for name in assignment.notebooks}
        found.append(_from_files(student_dir.name, files, _read_timestamp(folder), folder))
    return found


# --- LMS exports: <student>.ipynb in a folder or a zip -----------------------------------------------------

def _single_notebook(assignment: Assignment, where: Path) -> str:
    if len(assignment.notebooks) != 1:
        raise UserError(f"{assignment.id} has {len(assignment.notebooks)} notebooks; a folder or zip of "
                        "<student>.ipynb files only works for one-notebook assignments (use submitted/)", where)
    return assignment.notebooks[0]


def _student_of(filename: str) -> tuple[str, bool] | None:
    """(student, is a notebook) for an LMS file name; None for files that are not submissions (.DS_Store)."""
    if filename.startswith(".") or not filename:
        return None
    stem, dot, suffix = filename.rpartition(".")
    if dot and suffix.lower() == "ipynb":
        return stem, True
    return (stem if dot else filename), False


def _group(names: Iterable[str]) -> dict[str, list[tuple[str, bool]]]:
    """Files per student: {student: [(file name, is notebook)]}."""
    groups: dict[str, list[tuple[str, bool]]] = {}
    for name in names:
        parsed = _student_of(PurePosixPath(name.replace("\\", "/")).name)
        if parsed:
            groups.setdefault(parsed[0], []).append((name, parsed[1]))
    return groups


def _pick(student: str, files: list[tuple[str, bool]]) -> tuple[str | None, str | None]:
    """(the one notebook file, problem) among a student's files."""
    notebooks = [name for name, is_notebook in files if is_notebook]
    if len(notebooks) == 1:
        return notebooks[0], None
    if notebooks:
        return None, f"several notebooks for {_show(student)}: {', '.join(map(_show, sorted(notebooks)))}"
    return None, f"no notebook (.ipynb), only {', '.join(sorted(_show(PurePosixPath(n).name) for n, _ in files))}"


def _problem_only(raw_student: str, problem: str, submitted_at: str, source: str) -> Submission:
    student, name_problem = student_name(raw_student)
    digest = hashlib.sha256()
    return _finish(student, {}, digest, [p for p in (name_problem, problem) if p], submitted_at, source)


def _from_folder(folder: Path, notebook: str) -> list[Submission]:
    found = []
    for student, files in _group(p.name for p in folder.iterdir() if not p.is_dir()).items():
        chosen, problem = _pick(student, files)
        if chosen is None:
            paths = [folder / name for name, _ in files]
            found.append(_problem_only(student, problem or "", _mtime_iso(paths, folder), str(paths[0])))
        else:
            found.append(_from_files(student, {notebook: folder / chosen}, None, folder / chosen))
    return found


def _temporary_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="ag-submissions-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _zip_time(info: zipfile.ZipInfo) -> str:
    """An entry's modification time; zips store no time zone, so it is taken as UTC."""
    try:
        return _utc_iso(dt.datetime(*info.date_time, tzinfo=dt.UTC))
    except ValueError:
        return _utc_iso(dt.datetime(1980, 1, 1, tzinfo=dt.UTC))  # the zip format's "no date"


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
            raise UserError(f"entry {_show(info.filename)} points outside the zip; refusing to unpack it", path)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UserError(f"entry {_show(info.filename)} is a symbolic link; refusing to unpack it", path)


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, digest: hashlib._Hash,
             notebook: str) -> str | None:
    """Copy one entry to ``target`` (a path we chose, never the entry's name), hashing it; a problem or None."""
    written = 0
    with archive.open(info) as source, target.open("wb") as sink:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > NOTEBOOK_CAP:
                return f"{notebook} unpacks to over the {NOTEBOOK_CAP // 1024**2} MiB limit"
            digest.update(chunk)
            sink.write(chunk)
    return None


def _zip_submission(archive: zipfile.ZipFile, info: zipfile.ZipInfo, raw_student: str, notebook: str,
                    scratch: Path) -> Submission:
    student, name_problem = student_name(raw_student)
    when = _zip_time(info)
    source = f"zip:{info.filename}"
    digest = hashlib.sha256()
    problem = name_problem or _size_problem(notebook, info.file_size)
    if problem:  # not unpacked: identify it by what the zip says about it
        digest.update(f"{info.filename}\0{info.file_size}\0{info.CRC}".encode("utf-8", "surrogateescape"))
        return _finish(student, {}, digest, [problem], when, source)
    target = scratch / student / notebook
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        problem = _extract(archive, info, target, digest, notebook)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as exc:
        problem = f"{notebook} cannot be unpacked ({exc})"
    if problem:
        target.unlink(missing_ok=True)
    return _finish(student, {notebook: target}, digest, [problem] if problem else [], when, source)


def _from_zip(path: Path, notebook: str, scratch: Path) -> list[Submission]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UserError(f"not a readable zip file ({exc})", path) from None
    with archive:
        _check_zip(path, archive.infolist())
        by_name = {i.filename: i for i in archive.infolist()
                   if not i.is_dir() and not i.filename.startswith("__MACOSX/")}
        found = []
        for student, files in _group(by_name).items():
            chosen, problem = _pick(student, files)
            if chosen is None:
                found.append(_problem_only(student, problem or "", _zip_time(by_name[files[0][0]]),
                                           f"zip:{files[0][0]}"))
            else:
                found.append(_zip_submission(archive, by_name[chosen], student, notebook, scratch))
    return found
