"""Known-wrong submissions: YAML specs that edit the reference solution, and the tests each must fail.

A spec lives in ``tests/hidden/<id>/wrong/<name>.yml`` (never released); `release` renders it into
``solutions/<id>/wrong/<name>.ipynb`` and `validate` proves it loses exactly the points of ``fails``.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from nbformat import NotebookNode
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .config import Assignment
from .errors import AuthoringError
from .notebooks import METADATA_KEY, cells_by_grade_id, is_solution


class WrongSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", exclude=True)
    path: Path = Field(default=Path("."), exclude=True)
    description: str
    fails: list[str] = Field(min_length=1)
    notebook: str | None = None
    replace: dict[str, str] = Field(default_factory=dict)
    substitute: dict[str, list[tuple[str, str]]] = Field(default_factory=dict)


def load_specs(folder: Path, assignment: Assignment) -> list[WrongSpec]:
    """All specs in ``folder`` (none when it does not exist), sorted by name."""
    if not folder.is_dir():
        return []
    return [_load(path, assignment) for path in sorted(folder.glob("*.yml"))]


def _load(path: Path, assignment: Assignment) -> WrongSpec:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec = WrongSpec.model_validate(data)
    except yaml.YAMLError as exc:
        raise AuthoringError(f"not valid YAML ({getattr(exc, 'problem', exc)})", path) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise AuthoringError(f"{where}: {first['msg']}", path) from None
    if not spec.replace and not spec.substitute:
        raise AuthoringError("a known-wrong spec needs 'replace' or 'substitute'", path)
    notebook = spec.notebook or assignment.notebooks[0]
    if notebook not in assignment.notebooks:
        raise AuthoringError(f"notebook {notebook!r} is not one of {assignment.notebooks}", path)
    return spec.model_copy(update={"name": path.stem, "path": path, "notebook": notebook})


def apply(spec: WrongSpec, references: dict[str, NotebookNode]) -> NotebookNode:
    """The reference notebook with the spec's edits, carrying the spec in its metadata."""
    nb = copy.deepcopy(references[spec.notebook])
    cells = cells_by_grade_id(nb)
    for gid in [*spec.replace, *spec.substitute]:
        if gid not in cells or not is_solution(cells[gid]):
            raise AuthoringError(f"{gid!r} is not an answer cell of {spec.notebook}", spec.path)
    for gid, source in spec.replace.items():
        cells[gid].source = source.rstrip("\n")
    for gid, edits in spec.substitute.items():
        text = cells[gid].source
        for old, new in edits:
            count = text.count(old)
            if count != 1:
                raise AuthoringError(f"substitute in {gid!r}: {old!r} occurs {count} times, need exactly 1",
                                     spec.path)
            text = text.replace(old, new)
        cells[gid].source = text
    nb.metadata[METADATA_KEY] = {
        **nb.metadata.get(METADATA_KEY, {}),
        "known_wrong": {"description": spec.description, "fails": list(spec.fails)},
    }
    return nb


def declared_failures(nb: NotebookNode) -> list[str] | None:
    """The tests a rendered known-wrong notebook declares it must fail (None for other notebooks)."""
    info = nb.metadata.get(METADATA_KEY, {}).get("known_wrong")
    return list(info["fails"]) if info else None
