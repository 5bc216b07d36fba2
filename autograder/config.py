"""course.yml: the typed course description, and one-line errors when it is wrong."""

from __future__ import annotations

import datetime as dt
import math
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from .errors import ConfigError

COURSE_FILE = "course.yml"

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1000, "kib": 1024, "m": 1024**2, "mb": 1000**2, "mib": 1024**2,
          "g": 1024**3, "gb": 1000**3, "gib": 1024**3}
_DURATIONS = {"": 1, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "day": 86400, "days": 86400,
              "w": 7 * 86400}


def _parse_with_units(value: Any, units: dict[str, int], what: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a {what}, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", str(value))
    if not match or match.group(2).lower() not in units:
        raise ValueError(f"expected a {what} such as {'2GiB' if what == 'size' else '90s or 10m'}, got {value!r}")
    return float(match.group(1)) * units[match.group(2).lower()]


def _bytes(value: Any) -> int:
    return int(_parse_with_units(value, _UNITS, "size"))


def _seconds(value: Any) -> float:
    return _parse_with_units(value, _DURATIONS, "duration")


Bytes = Annotated[int, BeforeValidator(_bytes), Field(gt=0)]
Seconds = Annotated[float, BeforeValidator(_seconds), Field(gt=0)]
Duration = Annotated[float, BeforeValidator(_seconds), Field(ge=0)]  # 0 allowed: no grace period
END_OF_DAY = dt.time(23, 59, 59)  # a due date without a time is due at the end of that day, local time


def _zone(value: Any) -> str:
    """A time-zone name the system's tz database knows (``Europe/Berlin``, ``UTC``)."""
    if not isinstance(value, str) or tz_of(value) is None:
        raise ValueError(f"unknown time zone {value!r} (use a name such as UTC or Europe/Berlin)")
    return value


def tz_of(name: str) -> dt.tzinfo | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _moment(value: Any) -> dt.date | dt.datetime:
    """A date (``2026-09-14``, due at its end) or a date and time, optionally with a UTC offset
    (``2026-09-14 17:00``, ``2026-09-14T17:00:00+02:00``): naive times are in the course's time zone."""
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(f"expected a date such as 2026-09-14 or a date and time such as 2026-09-14 17:00 or "
                     f"2026-09-14T17:00:00+02:00, got {value!r}")


def _extension(value: Any) -> float | dt.date | dt.datetime:
    """A per-student extension: a duration added to the due date (``2d``, ``36h``) or a new due date."""
    try:
        return _moment(value) if isinstance(value, dt.date) or (isinstance(value, str) and "-" in value) \
            else _seconds(value)
    except ValueError:
        raise ValueError(f"expected a duration such as 2d or 36h, or a new due date such as 2026-09-16 23:59, "
                         f"got {value!r}") from None


Zone = Annotated[str, BeforeValidator(_zone)]
Moment = Annotated[dt.date | dt.datetime, BeforeValidator(_moment)]
Extension = Annotated[float | dt.date | dt.datetime, BeforeValidator(_extension)]


class Penalty(StrEnum):
    none = "none"        # lateness is recorded, nothing is deducted
    percent = "percent"  # ``percent`` of the maximum score per started ``per`` (day or hour), up to ``cap``
    zero = "zero"        # any lateness beyond the grace period scores zero


class LatePolicy(BaseModel):
    """How late work loses points. Lateness is counted from the due date (plus the student's extension) once
    the grace period is over: within ``grace`` a submission is on time, after it the periods start counting
    from the end of the grace period. After ``cutoff`` (measured like the lateness) the score is zero whatever
    the penalty."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    penalty: Penalty = Penalty.none
    grace: Duration = 0.0
    percent: float = Field(default=0.0, ge=0, le=100)   # of the maximum score, per started period
    per: Literal["day", "hour"] = "day"
    cap: float = Field(default=100.0, ge=0, le=100)     # at most this percent of the maximum score is deducted
    cutoff: Duration | None = None

    @model_validator(mode="after")
    def _percent_given(self) -> LatePolicy:
        if self.penalty == Penalty.percent and self.percent <= 0:
            raise ValueError("penalty percent needs `percent:` above 0 (the deduction per day or hour)")
        return self

    def deduction(self, raw: float, max_score: float, late_seconds: float) -> float:
        """Points deducted from ``raw`` for ``late_seconds`` of lateness past the (extended) due date; clamped to
        [0, raw] as nbgrader clamps its late-plugin's result."""
        over = late_seconds - self.grace
        if over <= 0:
            return 0.0
        if self.penalty == Penalty.zero or (self.cutoff is not None and over > self.cutoff):
            return raw
        if self.penalty == Penalty.none:
            return 0.0
        periods = math.ceil(over / (86400 if self.per == "day" else 3600))
        percent = min(self.cap, periods * self.percent)
        return round(min(raw, max(0.0, max_score * percent / 100)), 6)


def _assignment_id(value: Any) -> Any:
    """Any name nbgrader accepts for an assignment folder (``ps1``, ``hw-03``, ``Lab 2``, ``week01-markov``): it
    names a folder under source/, release/ and submitted/<student>/, so no path separators, no ``+`` (nbgrader's
    own rule), no ``.``/``..``, no control characters and no surrounding spaces."""
    if not isinstance(value, str):
        return value
    if (not value or value in (".", "..") or value != value.strip() or len(value) > 100
            or any(c in value for c in "/\\+") or any(ord(c) < 32 or ord(c) == 127 for c in value)):
        raise ValueError(f"{value!r} is not an assignment id nbgrader accepts (a folder name without /, \\ or +, "
                         "such as ps1 or week01-markov)")
    return value


AssignmentId = Annotated[str, BeforeValidator(_assignment_id)]


def _language(value: Any) -> Any:
    """An ISO 639 language code Babel's locale data knows (``en``, ``ko``): it names release/<code>/ and the
    message catalogs."""
    if not isinstance(value, str):
        return value
    from babel import localedata

    if not re.fullmatch(r"[a-z]{2,3}", value) or not localedata.exists(value):
        raise ValueError(f"unknown language code {value!r} (use an ISO 639 code such as en or ko)")
    return value


Language = Annotated[str, BeforeValidator(_language)]


class GpuUse(StrEnum):
    none = "none"
    optional = "optional"
    required = "required"


class Assignment(BaseModel):
    """One assignment: what it is, when it runs, and the limits its submissions are graded under."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: AssignmentId
    title: str
    week: int | None = Field(default=None, ge=0)  # optional metadata (nbgrader courses have none)
    notebooks: list[str] = Field(min_length=1)
    release: dt.date
    due: Moment
    timezone: Zone | None = None       # default: the course's
    late: LatePolicy | None = None     # default: the course's
    # student id -> a duration added to the due date (2d) or a new due date; ids compare as student ids do
    extensions: dict[str, Extension] = Field(default_factory=dict)
    time_limit: Seconds = 300.0        # the whole submission: running the notebook and every check
    call_time_limit: Seconds = 60.0    # one call from a check into the submission
    memory: Bytes = 2 * 1024**3
    gpu: GpuUse = GpuUse.none
    image: str = "autograder-runner:cpu"
    # `autograder mutate`: the least share of non-equivalent mutants the hidden checks must kill, and how many
    # mutants per graded function the fast profile (`make test`) grades.
    mutation_threshold: float = Field(default=0.0, ge=0.0, le=1.0)
    mutation_sample: int = Field(default=3, ge=1)

    @model_validator(mode="after")
    def _due_after_release(self) -> Assignment:
        due = self.due.date() if isinstance(self.due, dt.datetime) else self.due
        if due < self.release:
            raise ValueError(f"due date {self.due} is before release date {self.release}")
        return self

    @property
    def memory_text(self) -> str:
        """The memory limit as people write it (``2 GiB``)."""
        for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
            if self.memory >= size:
                return f"{self.memory / size:g} {unit}"
        return f"{self.memory} B"


class Course(BaseModel):
    """The whole course. ``root`` is the folder holding course.yml; every other path is relative to it."""

    model_config = ConfigDict(extra="forbid")

    title: str
    timezone: Zone = "UTC"                           # of due dates written without an offset
    late: LatePolicy = Field(default_factory=LatePolicy)  # every assignment's, unless it has its own
    roster: str = "students.csv"                     # optional; relative to the course folder
    assignments: list[Assignment] = Field(min_length=1)
    # the results database, relative to the course folder (an imported nbgrader course keeps nbgrader's own
    # gradebook.db beside it, so its course.yml names another file)
    gradebook: str = Field(default="gradebook.db", pattern=r"^[^/\\]+\.db$")
    # the languages notebooks are released in; the first is the one source cells are written in (the base),
    # the others come from translation twins (docs/authoring.md, "Bilingual notebooks")
    languages: list[Language] = Field(default_factory=lambda: ["en"], min_length=1)
    root: Path = Field(default=Path("."), exclude=True)

    def late_policy(self, a: Assignment) -> LatePolicy:
        return a.late or self.late

    def due_at(self, a: Assignment, student: str | None = None) -> dt.datetime:
        """When ``student``'s work of ``a`` is due (their extension included), as an aware datetime."""
        from .students import student_key

        zone = tz_of(a.timezone or self.timezone) or dt.UTC
        due = _aware(a.due, zone)
        if student is not None:
            wanted = student_key(student)
            for name, extension in a.extensions.items():
                if student_key(name) == wanted:
                    if isinstance(extension, float | int):
                        return due + dt.timedelta(seconds=extension)
                    return _aware(extension, zone)
        return due

    def roster_path(self) -> Path:
        return self.root / self.roster

    def assignment(self, assignment_id: str) -> Assignment:
        for assignment in self.assignments:
            if assignment.id == assignment_id:
                return assignment
        known = ", ".join(a.id for a in self.assignments)
        raise ConfigError(f"no assignment {assignment_id!r} (known: {known})", self.root / COURSE_FILE)

    def select(self, ids: list[str] | None) -> list[Assignment]:
        """The assignments named by ``ids`` (all of them when empty), in course order."""
        return [self.assignment(i) for i in ids] if ids else list(self.assignments)

    @property
    def base_language(self) -> str:
        """The language source cells are written in; its release keeps nbgrader's plain layout."""
        return self.languages[0]

    # Folder layout (nbgrader's, plus tests/hidden and solutions; other languages one folder down).
    def source_dir(self, a: Assignment) -> Path:
        return self.root / "source" / a.id

    def release_dir(self, a: Assignment, lang: str | None = None) -> Path:
        """release/<id>/ for the base language, release/<lang>/<id>/ for the others."""
        return self.root / "release" / self._lang_part(lang) / a.id

    def solutions_dir(self, a: Assignment, lang: str | None = None) -> Path:
        return self.root / "solutions" / self._lang_part(lang) / a.id

    def _lang_part(self, lang: str | None) -> str:
        return "" if lang is None or lang == self.base_language else lang

    def hidden_tests_dir(self, a: Assignment) -> Path:
        return self.root / "tests" / "hidden" / a.id


def _aware(moment: dt.date | dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime.combine(moment, END_OF_DAY)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def _location(loc: tuple[Any, ...], data: Any) -> str:
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            ident = node[item].get("id") if isinstance(node, list) and isinstance(node[item], dict) else None
            parts[-1] += f"[{item}]" + (f" ({ident})" if ident else "")
        else:
            parts.append(str(item))
        try:
            node = node[item]
        except (KeyError, IndexError, TypeError):
            node = None
    return ".".join(parts) or "(top level)"


def _describe(error: dict[str, Any]) -> str:
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    msg = msg.removeprefix("Value error, ")
    return f"{msg} (got {error['input']!r})" if kind.endswith("_type") or kind.endswith("_parsing") else msg


def parse_course(data: Any, path: Path) -> Course:
    """Validate parsed YAML into a :class:`Course`; raise one :class:`ConfigError` naming key and problem."""
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping with 'title' and 'assignments'", path)
    try:
        course = Course.model_validate({**data, "root": path.parent})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{_location(first['loc'], data)}: {_describe(first)}", path) from None
    _check_consistency(course, path)
    return course


def _check_languages(course: Course, path: Path) -> None:
    """Each language once, and no assignment named like a language (release/<lang>/ would hold both)."""
    for index, lang in enumerate(course.languages):
        if lang in course.languages[:index]:
            raise ConfigError(f"languages[{index}]: duplicate language {lang!r}", path)
    for index, a in enumerate(course.assignments):
        if a.id in course.languages:
            raise ConfigError(f"assignments[{index}].id: {a.id!r} is also a language code in `languages`, and "
                              f"release/{a.id}/ cannot hold both", path)


def _check_consistency(course: Course, path: Path) -> None:
    _check_languages(course, path)
    seen: set[str] = set()
    for index, a in enumerate(course.assignments):
        key = f"assignments[{index}] ({a.id})"
        if a.id in seen:
            raise ConfigError(f"assignments[{index}].id: duplicate assignment id {a.id!r}", path)
        seen.add(a.id)
        source = course.source_dir(a)
        if not source.is_dir():
            raise ConfigError(f"{key}: source folder {source.relative_to(course.root)} does not exist", path)
        for name in a.notebooks:
            if not (source / name).is_file():
                raise ConfigError(f"{key}.notebooks: {name} is not in {source.relative_to(course.root)}", path)
        _check_extensions(a, key, path)


def _check_extensions(a: Assignment, key: str, path: Path) -> None:
    """One extension per student (``Alice`` and ``alice`` are one), and none that ends before the due date."""
    from .students import student_key

    seen: dict[str, str] = {}
    for name, extension in a.extensions.items():
        if student_key(name) in seen:
            raise ConfigError(f"{key}.extensions: {name!r} and {seen[student_key(name)]!r} are the same student",
                              path)
        seen[student_key(name)] = name
        zone = dt.UTC  # only the order matters here, and both sides are read in the same zone
        if not isinstance(extension, float | int) and _aware(extension, zone) < _aware(a.due, zone):
            raise ConfigError(f"{key}.extensions.{name}: the new due date {extension} is before the due date "
                              f"{a.due}", path)


def find_course_file(start: Path | None = None) -> Path:
    """course.yml in ``start`` or the nearest parent folder (like git finds .git)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / COURSE_FILE).is_file():
            return folder / COURSE_FILE
    raise ConfigError(f"no {COURSE_FILE} here or in any parent folder; run from the course repository", here)


def load_course(path: Path | None = None) -> Course:
    """Read and validate course.yml (found from the working directory when ``path`` is None)."""
    path = (Path(path) if path else find_course_file()).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the file ({exc.strerror})", path) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}not valid YAML ({problem})", path) from None
    return parse_course(data, path)
