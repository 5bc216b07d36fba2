"""`autograder check NOTEBOOK`: what a student runs before submitting.

It answers five questions: is this a readable notebook of a known assignment; were locked or check cells
changed or deleted; will the grader need a person to look at it (needs review: an answer cell it cannot find,
a function defined twice); does it run top to bottom in a fresh kernel within the time limit; and which public
checks pass. It runs exactly the program the grader builds (:func:`autograder.program.build_program`), in a
Jupyter kernel, so its verdict is the grader's. Hidden checks are not involved (they never leave the course
staff's machines).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

from .config import Assignment, Course, find_course_file, load_course
from .errors import ConfigError, NotebookError
from .notebooks import assignment_of, is_locked, read_notebook
from .program import Program, build_program, normalised, program_without_release

DEFAULT_TIME_LIMIT = 300.0


@dataclass
class PublicCheck:
    cell: str
    status: str  # passed | failed | not run
    detail: str = ""


@dataclass
class CheckReport:
    notebook: Path
    assignment: str | None
    tampered: list[str] = field(default_factory=list)
    review: list[str] = field(default_factory=list)
    cell_errors: list[str] = field(default_factory=list)
    checks: list[PublicCheck] = field(default_factory=list)
    seconds: float = 0.0
    time_limit: float = DEFAULT_TIME_LIMIT
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return (not self.tampered and not self.review and not self.timed_out and bool(self.checks)
                and all(c.status == "passed" for c in self.checks))


def _course_near(path: Path) -> Course | None:
    for start in (path.resolve().parent, Path.cwd()):
        try:
            return load_course(find_course_file(start))
        except ConfigError as exc:
            if "no course.yml" not in str(exc):
                raise
    return None


def identify(nb: NotebookNode, path: Path, course: Course | None) -> tuple[Assignment | None, str | None]:
    """The assignment and notebook name: from the release stamp, else by file name."""
    stamped = assignment_of(nb)
    if course is None:
        if stamped is None:
            raise NotebookError("not a notebook of this course (no assignment stamp, no course.yml nearby)", path)
        return None, None
    if stamped:
        assignment = next((a for a in course.assignments if a.id == stamped), None)
        if assignment is None:
            raise NotebookError(f"belongs to assignment {stamped!r}, which course.yml does not list", path)
        return assignment, nb.metadata["autograder"].get("notebook", assignment.notebooks[0])
    for assignment in course.assignments:
        if path.name in assignment.notebooks:
            return assignment, path.name
    found = _by_content(nb, course)
    if found:  # copied into a fresh notebook, or saved under another name: its given cells say whose it is
        return found
    raise NotebookError("not a notebook of a known assignment (no assignment stamp, no matching name, and none of "
                        "its cells are an assignment's given code)", path)


def _by_content(nb: NotebookNode, course: Course) -> tuple[Assignment, str] | None:
    """The released notebook most of whose locked code cells appear, unchanged, in ``nb`` (at least half)."""
    mine = {normalised(cell.source) for cell in nb.cells if cell.cell_type == "code"}
    best, best_share = None, 0.5
    for assignment in course.assignments:
        for name in assignment.notebooks:
            release_path = course.release_dir(assignment) / name
            if not release_path.is_file():
                continue
            locked = [normalised(c.source) for c in read_notebook(release_path).cells
                      if c.cell_type == "code" and is_locked(c) and c.source.strip()]
            share = sum(source in mine for source in locked) / len(locked) if locked else 0.0
            if share >= best_share:
                best, best_share = (assignment, name), share
    return best


def _error_of(cell: NotebookNode) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            value = " ".join(str(output.get("evalue", "")).split())
            return f"{output.get('ename', 'Error')}: {value}" if value else output.get("ename", "Error")
    return None


def execute(nb: NotebookNode, workdir: Path, time_limit: float) -> tuple[NotebookNode, float, bool]:
    """Run in a fresh kernel, continuing after errors; returns (executed notebook, seconds, timed out)."""
    # IPC sockets in the scratch folder: local-only, and no "running over TCP without encryption" warning.
    km = KernelManager(kernel_name="python3", transport="ipc", ip=str(workdir / ".kernel"))
    client = NotebookClient(nb, km=km, timeout=max(1, int(time_limit)), allow_errors=True,
                            resources={"metadata": {"path": str(workdir)}})
    start = time.monotonic()
    timed_out = False
    try:
        client.execute()
    except (CellTimeoutError, TimeoutError):
        timed_out = True
    except DeadKernelError:
        pass  # reported below as cells that did not run
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    seconds = time.monotonic() - start
    return nb, seconds, timed_out or seconds > time_limit


def program_of(nb: NotebookNode, release: NotebookNode | None) -> Program:
    """The grader's program; away from the course (no release), the notebook as it stands."""
    return build_program(nb, release) if release is not None else program_without_release(nb)


def runnable_notebook(program: Program, like: NotebookNode) -> NotebookNode:
    """The program's cells as a notebook for the kernel (the student's kernelspec and language)."""
    return nbformat.v4.new_notebook(metadata={k: v for k, v in like.metadata.items()
                                              if k in ("kernelspec", "language_info")},
                                    cells=[nbformat.v4.new_code_cell(c.source) for c in program.cells])


def check_notebook(path: Path, announce: Callable[[str], None] | None = None) -> CheckReport:
    """Check one notebook; ``announce`` hears the assignment once the file is known to be usable."""
    path = Path(path)
    nb = read_notebook(path)
    course = _course_near(path)
    assignment, name = identify(nb, path, course)
    if announce:
        announce(assignment.id if assignment else assignment_of(nb) or "unknown assignment")
    release = None
    if course and assignment and name:
        release_path = course.release_dir(assignment) / name
        release = read_notebook(release_path) if release_path.is_file() else None
    report = CheckReport(path, assignment.id if assignment else assignment_of(nb))
    report.time_limit = assignment.time_limit if assignment else DEFAULT_TIME_LIMIT
    program = program_of(nb, release)
    report.tampered, report.review = list(program.tampered), list(program.review)
    with tempfile.TemporaryDirectory(prefix="ag-check-") as tmp:
        workdir = Path(tmp)
        if course and assignment and course.release_dir(assignment).is_dir():
            shutil.copytree(course.release_dir(assignment), workdir, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("*.ipynb"))
        executed, report.seconds, report.timed_out = execute(runnable_notebook(program, nb), workdir,
                                                             report.time_limit)
    for entry, cell in zip(program.cells, executed.cells, strict=True):
        error = _error_of(cell)
        ran = cell.get("execution_count") is not None or bool(cell.get("outputs"))
        if entry.public_check:
            status = "failed" if error else ("passed" if ran or not cell.source.strip() else "not run")
            report.checks.append(PublicCheck(entry.label, status, error or ""))
        elif error:
            report.cell_errors.append(f"{entry.label}: {error}")
    return report
