"""The trusted side: run an assignment's hidden checks against a submission and score them fail-closed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Assignment, Course
from ..i18n import N_
from ..notebooks import CodeCell, read_notebook
from ..program import Program, build_program, combine

if TYPE_CHECKING:
    from nbformat import NotebookNode

PLUGIN = "autograder.harness.plugin"
PENDING = N_("pending manual review")
TRUSTED_INI = Path(__file__).with_name("pytest.ini")


@dataclass(frozen=True)
class TestResult:
    """One expected hidden check: its worth, its description, and what happened."""

    __test__ = False  # not a pytest test class

    test_id: str
    name: str
    description: str
    points: float
    passed: bool
    message: str
    pending: bool = False    # a manually graded part (nbgrader answer or task cell): a person gives its points
    forgeable: bool = False  # an nbgrader test cell run inside the sandbox, beside the student's code
    # a person's review of a manually graded part (`autograder review --import`): points, comment, author, at
    manual: dict[str, Any] | None = None

    @property
    def score(self) -> float:
        if self.manual is not None:
            return float(self.manual["points"])
        return self.points if self.passed else 0.0


@dataclass
class CheckRun:
    """All hidden checks of one assignment against one submission."""

    tests: list[TestResult] = field(default_factory=list)
    cell_errors: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.points for t in self.tests)

    def failed(self) -> list[TestResult]:
        return [t for t in self.tests if not t.passed and not t.pending]

    def pending(self) -> list[TestResult]:
        """Manually graded parts waiting for a person."""
        return [t for t in self.tests if t.pending]


def score_results(data: dict) -> CheckRun:
    """Fail-closed scoring: only expected tests that explicitly passed earn their points."""
    run = CheckRun(cell_errors=data.get("cell_errors", []), problems=list(data.get("problems", [])))
    outcomes = data.get("outcomes", {})
    for test_id, info in data.get("expected", {}).items():
        if info.get("manual"):
            run.tests.append(TestResult(test_id, info["name"], info["description"], float(info["points"]),
                                        False, PENDING, pending=True))
            continue
        outcome = outcomes.get(test_id)
        passed = bool(outcome) and outcome.get("outcome") == "passed"
        if outcome is None:
            message = N_("this check did not run")
        else:
            message = "" if passed else outcome.get("message") or N_("this check failed")
        run.tests.append(TestResult(test_id, info["name"], info["description"], float(info["points"]),
                                    passed, message, forgeable=bool(info.get("forgeable"))))
    return run


def _no_checks_dir() -> Path:
    """An empty folder standing for the hidden checks of an assignment that has none (an nbgrader course whose
    checks are all test cells)."""
    folder = Path(tempfile.gettempdir()) / f"ag-no-hidden-checks-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def pytest_args(hidden_dir: Path, results: Path, testcells: Path | None = None) -> list[str]:
    """The hidden checks, from a trusted ini, with no conftest, no cache and no assertion rewriting (whose
    messages would show expected values); modules imported afresh each run (a worker runs many).

    pytest's unraisable-exception plugin runs a full garbage collection (several passes) at the end of every
    session: a quarter of a second per submission in a warm worker holding torch, for warnings nobody reads.
    """
    if not Path(hidden_dir).is_dir():
        hidden_dir = _no_checks_dir()
    return [
        str(hidden_dir), "-c", str(TRUSTED_INI), "--rootdir", str(hidden_dir), "--noconftest", "-p", PLUGIN,
        "--assert=plain", "--import-mode=importlib", "-q", "--tb=no", "--no-header", "-p", "no:cacheprovider",
        "-p", "no:unraisableexception", "--ag-results", str(results),
        *([f"--ag-testcells={testcells}"] if testcells else []),
    ]


def pytest_command(hidden_dir: Path, results: Path, extra: list[str], testcells: Path | None = None) -> list[str]:
    """pytest in its own isolated (-I) interpreter."""
    return [sys.executable, "-I", "-m", "pytest", *pytest_args(hidden_dir, results, testcells), *extra]


def write_spec(course: Course, assignment: Assignment, path: Path) -> Path:
    """The assignment's nbgrader test cells and manual cells, for the plugin (``--ag-testcells``)."""
    from ..testcells import write_spec as write

    return write(course, assignment, path)


def submission_program(course: Course, assignment: Assignment, notebooks: list[NotebookNode]) -> Program:
    """The graded program of a submission (its notebooks, in course order), as :mod:`autograder.program` builds
    it against the release."""
    return combine([(name, build_program(nb, read_notebook(release_notebook(course, assignment, name, nb))))
                    for name, nb in zip(assignment.notebooks, notebooks, strict=True)])


def release_notebook(course: Course, assignment: Assignment, name: str, nb: NotebookNode) -> Path:
    """The released notebook ``nb`` was handed out as: the one in its recorded language (metadata.autograder.lang)
    when that release exists, else the base language's."""
    from ..languages import language_of

    path = course.release_dir(assignment, language_of(nb, course.languages)) / name
    return path if path.is_file() else course.release_dir(assignment) / name


def submission_cells(course: Course, assignment: Assignment, notebooks: list[Path]) -> list[CodeCell]:
    """The code to run for a submission read from ``notebooks``, in course order."""
    return submission_program(course, assignment, [read_notebook(p) for p in notebooks]).code_cells()


def public_workdir(course: Course, assignment: Assignment, into: Path) -> Path:
    """A scratch copy of the assignment's released public files (data), where submission code runs."""
    release_dir = course.release_dir(assignment)
    if release_dir.is_dir():
        shutil.copytree(release_dir, into, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.ipynb"))
    into.mkdir(parents=True, exist_ok=True)
    return into


def run_checks_inprocess(course: Course, assignment: Assignment, notebooks: list[Path],
                         timeout: float | None = None) -> CheckRun:
    """Run the hidden checks with the submission executed inside the pytest process (trusted notebooks)."""
    with tempfile.TemporaryDirectory(prefix="ag-validate-") as tmp:
        tmp_path = Path(tmp)
        workdir = public_workdir(course, assignment, tmp_path / "work")
        results = tmp_path / "results.json"
        cells_file = tmp_path / "cells.json"
        cells_file.write_text(json.dumps([vars(c) for c in submission_cells(course, assignment, notebooks)]))
        extra = [f"--ag-workdir={workdir}", f"--ag-cells={cells_file}"]
        env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
        testcells = write_spec(course, assignment, tmp_path / "testcells.json")
        proc = subprocess.run(pytest_command(course.hidden_tests_dir(assignment), results, extra, testcells),
                              cwd=workdir, env=env, capture_output=True, text=True,
                              timeout=timeout or assignment.time_limit * 2)
        if not results.is_file():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
            return CheckRun(problems=["the hidden checks produced no results: " + " | ".join(tail)])
        return score_results(json.loads(results.read_text(encoding="utf-8")))


def collect_expected(course: Course, assignment: Assignment) -> dict[str, dict]:
    """The expected hidden checks and their points, from a collect-only pytest run (no submission needed)."""
    with tempfile.TemporaryDirectory(prefix="ag-collect-") as tmp:
        results = Path(tmp) / "results.json"
        testcells = write_spec(course, assignment, Path(tmp) / "testcells.json")
        subprocess.run([*pytest_command(course.hidden_tests_dir(assignment), results, [], testcells),
                        "--collect-only"],
                       cwd=tmp, capture_output=True, timeout=300)
        if not results.is_file():
            return {}
        return json.loads(results.read_text(encoding="utf-8")).get("expected", {})
