"""course.yml: the typed course description, and one-line errors when it is wrong."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from .errors import ConfigError

COURSE_FILE = "course.yml"

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1000, "kib": 1024, "m": 1024**2, "mb": 1000**2, "mib": 1024**2,
          "g": 1024**3, "gb": 1000**3, "gib": 1024**3}
_DURATIONS = {"": 1, "s": 1, "m": 60, "min": 60, "h": 3600}


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
AssignmentId = Annotated[str, Field(pattern=r"^week[0-9]{2}-[a-z0-9][a-z0-9-]*$")]


class GpuUse(StrEnum):
    none = "none"
    optional = "optional"
    required = "required"


class Assignment(BaseModel):
    """One assignment: what it is, when it runs, and the limits its submissions are graded under."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: AssignmentId
    title: str
    week: int = Field(ge=0)
    notebooks: list[str] = Field(min_length=1)
    release: dt.date
    due: dt.date
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
        if self.due < self.release:
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
    assignments: list[Assignment] = Field(min_length=1)
    root: Path = Field(default=Path("."), exclude=True)

    def assignment(self, assignment_id: str) -> Assignment:
        for assignment in self.assignments:
            if assignment.id == assignment_id:
                return assignment
        known = ", ".join(a.id for a in self.assignments)
        raise ConfigError(f"no assignment {assignment_id!r} (known: {known})", self.root / COURSE_FILE)

    def select(self, ids: list[str] | None) -> list[Assignment]:
        """The assignments named by ``ids`` (all of them when empty), in course order."""
        return [self.assignment(i) for i in ids] if ids else list(self.assignments)

    # Folder layout (nbgrader's, plus tests/hidden and solutions).
    def source_dir(self, a: Assignment) -> Path:
        return self.root / "source" / a.id

    def release_dir(self, a: Assignment) -> Path:
        return self.root / "release" / a.id

    def solutions_dir(self, a: Assignment) -> Path:
        return self.root / "solutions" / a.id

    def hidden_tests_dir(self, a: Assignment) -> Path:
        return self.root / "tests" / "hidden" / a.id


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
    if kind == "string_pattern_mismatch" and error["loc"][-1] == "id":
        return f"{error['input']!r} is not an assignment id like week01-markov"
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


def _check_consistency(course: Course, path: Path) -> None:
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
