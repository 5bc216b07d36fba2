"""`autograder check NOTEBOOK`: what a student runs before submitting.

It answers five questions: is this a readable notebook of a known assignment; were locked or check cells
changed or deleted; will the grader need a person to look at it (needs review: an answer cell it cannot find,
a function defined twice); does it run top to bottom in a fresh kernel within the time limit; and which public
checks pass. It runs exactly the program the grader builds (:func:`autograder.program.build_program`), in a
Jupyter kernel, so its verdict is the grader's. Hidden checks are not involved (they never leave the course
staff's machines).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

from .config import Assignment, Course, find_course_file, load_course
from .errors import ConfigError, NotebookError
from .i18n import N_, _, course_languages, language_of, use_language
from .notebooks import assignment_of, is_locked, read_notebook
from .program import Program, ProgramCell, build_program, defined_names, normalised, program_without_release

DEFAULT_TIME_LIMIT = 300.0


@dataclass
class Place:
    """Where a cell is, as the student sees it: the section heading above it, and its position and id in the
    checked notebook (for jumping to it; None for a locked cell the student deleted)."""

    section: str = ""
    index: int | None = None
    cell_id: str | None = None

    def prefix(self) -> str:
        return _("in section '{section}': ", section=self.section) if self.section else ""


@dataclass
class PublicCheck:
    cell: str  # the check's grade id
    status: str  # passed | failed | not attempted (a function it calls is still the stub) | not run
    detail: str = ""
    place: Place = field(default_factory=Place)


@dataclass
class CellError:
    """A cell of the student's program that raised, with the later errors that only follow from it (names it
    would have defined, used further down) folded under it."""

    message: str
    place: Place = field(default_factory=Place)
    knock_on: list[CellError] = field(default_factory=list)

    def line(self) -> str:
        return self.place.prefix() + self.message


@dataclass
class CheckReport:
    notebook: Path
    assignment: str | None
    tampered: list[str] = field(default_factory=list)
    review: list[str] = field(default_factory=list)
    cell_errors: list[CellError] = field(default_factory=list)  # the real failures, first one first
    checks: list[PublicCheck] = field(default_factory=list)
    seconds: float = 0.0
    time_limit: float = DEFAULT_TIME_LIMIT
    timed_out: bool = False
    lang: str = ""  # the notebook's language (metadata.autograder.lang): that of every line shown to the student

    @property
    def ok(self) -> bool:
        return (not self.tampered and not self.review and not self.timed_out and bool(self.checks)
                and all(c.status == "passed" for c in self.checks))

    @property
    def verdict(self) -> str:
        """One line, computed from everything that blocks submitting, so it never contradicts itself."""
        total, passed = len(self.checks), sum(c.status == "passed" for c in self.checks)
        with use_language(self.lang):
            if self.ok:
                return _("Ready to submit: all {total} public checks pass.", total=total)
            reasons = []
            if self.tampered:
                reasons.append(_("locked cells were changed or deleted (restore them from the released notebook)"))
            if self.review:
                reasons.append(_("the course staff would have to look at it by hand (see above)"))
            if self.timed_out:
                reasons.append(_("it ran past the {limit} s time limit", limit=f"{self.time_limit:g}"))
            if not total:
                reasons.append(_("no public checks were found in it"))
            elif passed < total:
                reasons.append(_("{failing} of {total} public checks do not pass yet", failing=total - passed,
                                 total=total))
            return _("Not ready yet: {reasons}.", reasons="; ".join(reasons))

    def status_text(self, status: str) -> str:
        """A public check's status (passed, failed, not attempted, not run) in the notebook's language."""
        labels = {"passed": N_("passed"), "failed": N_("failed"), "not attempted": N_("not attempted"),
                  "not run": N_("not run")}
        with use_language(self.lang):
            return _(labels.get(status, status))

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the JupyterLab panel (the same facts the command line prints)."""
        def place(p: Place) -> dict[str, Any]:
            return {"section": p.section, "cell_index": p.index, "cell_id": p.cell_id}

        def error(e: CellError) -> dict[str, Any]:
            return {"message": e.message, **place(e.place), "knock_on": [error(k) for k in e.knock_on]}

        return {"notebook": str(self.notebook), "assignment": self.assignment, "ready": self.ok, "lang": self.lang,
                "verdict": self.verdict, "seconds": round(self.seconds, 2), "time_limit": self.time_limit,
                "timed_out": self.timed_out, "tampered": self.tampered, "review": self.review,
                "checks": [{"name": c.cell, "status": c.status, "status_text": self.status_text(c.status),
                            "message": c.detail, **place(c.place)}
                           for c in self.checks],
                "errors": [error(e) for e in self.cell_errors]}


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
            raise NotebookError(_("not a notebook of this course (no assignment stamp, no course.yml nearby)"), path)
        return None, None
    if stamped:
        assignment = next((a for a in course.assignments if a.id == stamped), None)
        if assignment is None:
            raise NotebookError(_("belongs to assignment {assignment}, which course.yml does not list",
                                  assignment=repr(stamped)), path)
        return assignment, nb.metadata["autograder"].get("notebook", assignment.notebooks[0])
    for assignment in course.assignments:
        if path.name in assignment.notebooks:
            return assignment, path.name
    found = _by_content(nb, course)
    if found:  # copied into a fresh notebook, or saved under another name: its given cells say whose it is
        return found
    raise NotebookError(_("not a notebook of a known assignment (no assignment stamp, no matching name, and none "
                          "of its cells are an assignment's given code)"), path)


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


def _error_of(cell: NotebookNode) -> dict[str, Any] | None:
    return next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# IPython's frame lines: "Cell In[3], line 5, in count_bigrams(sequences, vocab)" for notebook code
_FRAME = re.compile(r"^Cell In\[\d+\], line \d+, in (\w+)\(", re.MULTILINE)
_UNDEFINED = re.compile(r"name '(\w+)' is not defined")


def _function_of(error: dict[str, Any]) -> str | None:
    """The innermost notebook function the error was raised in (None: at a cell's top level)."""
    text = _ANSI.sub("", "\n".join(error.get("traceback", [])))
    frames = [name for name in _FRAME.findall(text) if name != "<module>"]
    return frames[-1] if frames else None


def describe(error: dict[str, Any]) -> str:
    """One sentence for the student, naming the function rather than the exception where that says more."""
    ename, value = error.get("ename", "Error"), " ".join(str(error.get("evalue", "")).split())
    function = _function_of(error)
    if ename == "NotImplementedError" and function:
        return _("`{function}` is not implemented yet", function=function)
    undefined = _UNDEFINED.search(value) if ename == "NameError" else None
    if undefined:
        return _("`{name}` is not defined", name=undefined.group(1))
    if ename == "AssertionError":  # a public check's own message: English in every release (korean.md, section 3)
        if value:
            return value
        return _("an assertion in `{function}` failed", function=function) if function else \
            _("the check's assertion failed")
    what = f"{ename}: {value}" if value else ename
    return _("`{function}` raised {what}", function=function, what=what) if function else what


def _heading(markdown: str) -> str | None:
    lines = [line.lstrip("#").strip() for line in markdown.splitlines() if re.match(r"#{1,6}\s", line)]
    return lines[-1].replace("`", "").replace("*", "") if lines else None


def _sections(nb: NotebookNode) -> list[str]:
    """For each cell, the last heading above it (or in it)."""
    current, out = "", []
    for cell in nb.cells:
        if cell.get("cell_type") == "markdown":
            current = _heading(str(cell.get("source", ""))) or current
        out.append(current)
    return out


def _grade_id(cell: NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _locate(entry: ProgramCell, nb: NotebookNode, release: NotebookNode | None) -> Place:
    """Where the student finds a program cell: by its number, its grade id or its text; a restored locked
    cell has only the release's heading."""
    numbered = re.fullmatch(r"cell (\d+)", entry.label)
    index = int(numbered.group(1)) - 1 if numbered and entry.release_id is None else None
    if index is None and entry.release_id:
        index = next((i for i, c in enumerate(nb.cells) if _grade_id(c) == entry.release_id), None)
    if index is None:
        text = normalised(entry.source)
        index = next((i for i, c in enumerate(nb.cells)
                      if c.get("cell_type") == "code" and normalised(str(c.get("source", ""))) == text), None)
    if index is not None and index < len(nb.cells):
        return Place(_sections(nb)[index], index, nb.cells[index].get("id"))
    if release is not None and entry.release_id:
        at = next((i for i, c in enumerate(release.cells) if _grade_id(c) == entry.release_id), None)
        if at is not None:
            return Place(_sections(release)[at])
    return Place()


def kernel_env() -> dict[str, str]:
    """The kernel's environment: ours, with the course's matplotlibrc (Korean labels render, as when graded)."""
    return {"MATPLOTLIBRC": str(Path(__file__).with_name("matplotlibrc")), **os.environ}


def execute(nb: NotebookNode, workdir: Path, time_limit: float) -> tuple[NotebookNode, float, bool]:
    """Run in a fresh kernel, continuing after errors; returns (executed notebook, seconds, timed out)."""
    # IPC sockets in the scratch folder: local-only, and no "running over TCP without encryption" warning.
    km = KernelManager(kernel_name="python3", transport="ipc", ip=str(workdir / ".kernel"))
    client = NotebookClient(nb, km=km, timeout=max(1, int(time_limit)), allow_errors=True,
                            resources={"metadata": {"path": str(workdir)}})
    start = time.monotonic()
    timed_out = False
    try:
        client.execute(env=kernel_env())
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
    lang = language_of(nb, course_languages(course) if course else None)
    with use_language(lang):
        assignment, name = identify(nb, path, course)
    if announce:
        announce(assignment.id if assignment else assignment_of(nb) or "unknown assignment")
    release = None
    if course and assignment and name:
        from .harness import release_notebook

        release_path = release_notebook(course, assignment, name, nb)
        release = read_notebook(release_path) if release_path.is_file() else None
    report = CheckReport(path, assignment.id if assignment else assignment_of(nb), lang=lang)
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
    with use_language(lang):
        report.checks, report.cell_errors = findings(program, executed, nb, release)
    return report


def findings(program: Program, executed: NotebookNode, nb: NotebookNode,
             release: NotebookNode | None) -> tuple[list[PublicCheck], list[CellError]]:
    """Each public check's outcome, and the real failures with their knock-on errors folded under them."""
    checks: list[PublicCheck] = []
    roots: list[CellError] = []
    cause: dict[str, CellError] = {}  # a name a failed cell would have defined -> the failure behind it
    for entry, cell in zip(program.cells, executed.cells, strict=True):
        error = _error_of(cell)
        place = _locate(entry, nb, release)
        if error is None:
            if entry.public_check:
                ran = cell.get("execution_count") is not None or bool(cell.get("outputs"))
                checks.append(PublicCheck(entry.label, "passed" if ran or not cell.source.strip() else "not run",
                                          place=place))
            continue
        message = describe(error)
        undefined = _UNDEFINED.search(str(error.get("evalue", ""))) if error.get("ename") == "NameError" else None
        origin = cause.get(undefined.group(1)) if undefined else None
        because = " " + _("(because of the error {error})", error=origin.line()) if origin is not None else ""
        if entry.public_check:
            status = "not attempted" if error.get("ename") == "NotImplementedError" else "failed"
            checks.append(PublicCheck(entry.label, status, message + because, place))
            failure = origin or CellError(message, place)
        elif origin is not None and any(origin is root for root in roots):
            failure = origin
            origin.knock_on.append(CellError(message, place))
        else:
            failure = CellError(message + because, place)
            roots.append(failure)
        for name in defined_names(entry.source):
            cause.setdefault(name, failure)
    return checks, roots
