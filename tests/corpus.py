"""Building and reading the attack corpus's submissions: shared by test_attacks.py (local sandbox) and
test_docker.py (the same attacks through Docker).

Every malicious submission is the released toy reference (`solutions/week00-toy/toy.ipynb`) with attack code
from tests/attacks/ injected: an answer cell replaced (`answer-add`, `answer-scale`) or code cells added.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import yaml

from autograder.config import Course, load_course
from autograder.release import release
from autograder.results import GradeResult

from .conftest import FIXTURES

ATTACKS = Path(__file__).parent / "attacks"
ASSIGNMENT = "week00-toy"
CHECKS = ("test_add_integers", "test_add_floats", "test_scale")  # 2 + 1 + 3 points
# the sandbox's writable places, each a size-capped tmpfs mounted there (and wiped between submissions)
DISK_PLACES = {"scratch": "/work/scratch", "tmp": "/tmp", "shm": "/dev/shm"}


def attack(name: str, /, **params: Any) -> str:
    """The code of tests/attacks/<name>.py, after the shared helpers it names (``# uses _helper.py`` lines) and
    ``PARAMS = {...}`` when the attack takes parameters."""
    code = (ATTACKS / f"{name}.py").read_text(encoding="utf-8")
    uses = re.findall(r"^# uses (_\w+\.py)$", code, re.M)
    helpers = [(ATTACKS / helper).read_text(encoding="utf-8") for helper in uses]
    return (f"PARAMS = {params!r}\n" if params else "") + "\n\n".join([*helpers, code])


def attack_cells(name: str) -> list[str]:
    """An attack written as several cells, separated by ``# %%`` lines."""
    return [cell.strip() + "\n" for cell in attack(name).split("\n# %%\n")]


def build(course: Course, path: Path, *, add: str | None = None, scale: str | None = None,
          before: tuple[str, ...] = (), after: tuple[str, ...] | list[str] = (), blank: bool = False) -> Path:
    """The toy reference (or the blank release) with answer cells replaced and code cells added before or
    after all others."""
    origin = "release" if blank else "solutions"
    nb = nbformat.read(course.root / origin / ASSIGNMENT / "toy.ipynb", as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "answer-add" and add is not None:
            cell.source = add
        if grade_id == "answer-scale" and scale is not None:
            cell.source = scale
    extra = lambda source, n: nbformat.v4.new_code_cell(source, id=f"attack-{n}")  # noqa: E731
    nb.cells = ([extra(s, i) for i, s in enumerate(before)] + nb.cells
                + [extra(s, 100 + i) for i, s in enumerate(after)])
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def toy_course(base: Path, *, extra_hidden: dict[str, str] | None = None, canary: str | None = None,
               **limits: Any) -> Course:
    """A released copy of the toy course with its limits lowered (``time_limit``, ``call_time_limit``, ``memory``);
    with ``canary``, the hidden checks, a solution line and course.yml carry it (secrets no submission may see)."""
    root = base / "course"
    shutil.copytree(FIXTURES / "toycourse", root, ignore=shutil.ignore_patterns("release", "solutions", "__pycache__"))
    data = yaml.safe_load((root / "course.yml").read_text())
    data["assignments"][0].update(limits)
    (root / "course.yml").write_text(yaml.safe_dump(data, sort_keys=False)
                                     + (f"# {canary}-course-yml\n" if canary else ""))
    hidden = root / "tests" / "hidden" / ASSIGNMENT
    for name, text in (extra_hidden or {}).items():
        (hidden / name).write_text(text)
    if canary:
        test_file = hidden / "test_toy.py"
        test_file.write_text(test_file.read_text() + f"\n# {canary}-hidden-checks\n")
        source = root / "source" / ASSIGNMENT / "toy.ipynb"
        text = source.read_text()
        assert text.count('"    return a + b\\n"') == 1
        source.write_text(text.replace('"    return a + b\\n"', f'"    return a + b  # {canary}-solution\\n"'))
    course = load_course(root / "course.yml")
    release(course)
    return course


# --- reading results -----------------------------------------------------------------------------

def passed(result: GradeResult) -> set[str]:
    return {t.name for t in result.tests if t.passed}


def message(result: GradeResult, check: str) -> str:
    return next(t.message for t in result.tests if t.name == check)


def printed_text(result: GradeResult) -> str:
    """All a submission printed: while its notebook ran, and (kept for the course staff only) while the hidden
    checks called it."""
    return f"{result.output}\n{result.check_output}"


def printed(result: GradeResult, tag: str) -> Any:
    """The JSON a submission printed after ``tag`` (a line ``TAG {json}``), whenever it printed it."""
    text = printed_text(result)
    for line in text.splitlines():
        if line.startswith(tag + " "):
            return json.loads(line[len(tag) + 1:])
    raise AssertionError(f"{result.student} printed no {tag} line; output: {text[-2000:]!r}")


def processes_named(name: str) -> list[int]:
    """Host processes whatever their ancestry (an escaped one would have none) whose comm is ``name``."""
    found = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == name:
                found.append(int(pid))
        except OSError:
            pass
    return found


# --- the host's listening sockets, for the network attack ------------------------------------------

@dataclass
class Listeners:
    """A TCP port on the host's loopback and an abstract unix socket: the network attack tries both."""

    port: int
    abstract: str
    accepted: list = field(default_factory=list)


@contextlib.contextmanager
def host_listeners() -> Iterator[Listeners]:
    """Listen while the batch runs; afterwards ``accepted`` holds any connection a submission made."""
    tcp = socket.create_server(("127.0.0.1", 0))
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    name = f"ag-attack-{uuid.uuid4().hex}"
    unix.bind("\0" + name)
    unix.listen()
    for server in (tcp, unix):
        server.setblocking(False)
    found = Listeners(tcp.getsockname()[1], name)
    try:
        yield found
        for server in (tcp, unix):
            with contextlib.suppress(BlockingIOError):
                found.accepted.append(server.accept())
    finally:
        tcp.close()
        unix.close()
