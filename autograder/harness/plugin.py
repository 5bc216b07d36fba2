"""The pytest plugin that turns hidden checks into graded results.

Loaded with ``-p autograder.harness.plugin``. It provides the ``submission`` fixture, registers the
``points`` marker, records each expected test with its points and student-facing description, turns every
failure into a one-line message that never shows the check's code or expected values, and writes the
results as JSON for the caller.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ..i18n import _
from .feedback import describe_failure

RESULTS_VERSION = 1
_provider: Callable[[pytest.Config], Any] | None = None


def provide_submission(provider: Callable[[pytest.Config], Any] | None) -> None:
    """Let the process running pytest (a grading worker) supply the ``submission`` object."""
    global _provider
    _provider = provider


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("autograder")
    group.addoption("--ag-cells", help="JSON list of the submission's code cells to run ({label, source})")
    group.addoption("--ag-workdir", help="folder the submission's code runs in (public data files)")
    group.addoption("--ag-results", help="where to write the results JSON")
    group.addoption("--ag-testcells", help="JSON of the assignment's nbgrader test cells and manual cells")
    group.addoption("--ag-first", action="append", default=[],
                    help="run first the checks that name this function (repeatable; `autograder mutate`)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): how many points the check is worth")
    config.pluginmanager.register(Recorder(config), "autograder-recorder")


def description_of(item: pytest.Item) -> str:
    if getattr(item, "ag_description", None):
        return item.ag_description
    doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
    first = doc.strip().splitlines()[0].strip() if doc.strip() else ""
    return _(first) if first else item.name.removeprefix("test_").replace("_", " ")  # (extracted: i18n.py)


GPU_LINE = "GPU compatibility: "


def gpu_only(item: pytest.Item) -> bool:
    """A parametrized instance that exists only on a machine with a GPU (its ``device`` is CUDA)."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    device = params.get("device")
    return isinstance(device, str) and device.startswith("cuda")


def points_of(item: pytest.Item) -> float | None:
    marker = item.get_closest_marker("points")
    if marker is None or not marker.args:
        return None
    return float(marker.args[0])


class Recorder:
    """Collects what was expected and what happened, keyed by test id."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.expected: dict[str, dict[str, Any]] = {}
        self.outcomes: dict[str, dict[str, Any]] = {}
        self.problems: list[str] = []

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Points belong to a test function and never depend on the grader's hardware: the instances of a check
        parametrized over devices that run only where a GPU exists (``device="cuda"``...) carry no points and are
        reported on a line of their own ("GPU compatibility: ..."); the function's points are shared equally by
        its other instances, so a submission scores the same with and without a GPU."""
        def function_of(item: pytest.Item) -> str:
            return f"{item.nodeid.split('::')[0]}::{getattr(item, 'originalname', item.name)}"

        instances: dict[str, int] = {}
        for item in items:
            if not gpu_only(item):
                instances[function_of(item)] = instances.get(function_of(item), 0) + 1
        for item in items:
            points = points_of(item)
            if points is None:
                self.problems.append(f"{item.nodeid}: no @pytest.mark.points(N) marker")
                points = 0.0
            description = description_of(item)
            if gpu_only(item):
                points, description = 0.0, _("GPU compatibility: {description} (on the GPU; no points)",
                                              description=description)
            elif function_of(item) not in instances:
                points = 0.0
            self.expected[item.nodeid] = {"name": getattr(item, "originalname", item.name),
                                          "points": points / max(instances.get(function_of(item), 1), 1),
                                          "description": description}
            if getattr(item, "ag_forgeable", False):
                self.expected[item.nodeid]["forgeable"] = True
        for cell in getattr(self.config, "_ag_manual", []):  # counted in the maximum, graded by a person
            self.expected[cell.test_id] = {"name": cell.grade_id, "points": cell.points, "manual": True,
                                           "description": f"{cell.kind} {cell.grade_id} ({cell.notebook})"}

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.problems.append(f"{report.nodeid or 'collection'}: the hidden checks could not be collected")

    def pytest_runtest_call(self, item: pytest.Item) -> None:
        submission = getattr(self.config, "_ag_submission", None)
        if submission is not None and callable(getattr(type(submission), "set_current_test", None)):
            submission.set_current_test(item.name)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        report = outcome.get_result()
        if report.failed and call.excinfo is not None:
            report.ag_message = getattr(item, "ag_failure", None) or describe_failure(call.excinfo.value)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = self.outcomes.setdefault(report.nodeid, {"outcome": "passed", "message": ""})
        if report.failed and entry["outcome"] == "passed":
            entry["outcome"] = "failed"
            entry["message"] = getattr(report, "ag_message", None) or _("this check failed")
        elif report.skipped and report.when in ("setup", "call"):
            entry["outcome"] = "skipped"
            entry["message"] = _("this check was skipped")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        path = self.config.getoption("--ag-results")
        if not path:
            return
        submission = getattr(self.config, "_ag_submission", None)
        data = {
            "version": RESULTS_VERSION,
            "expected": self.expected,
            "outcomes": self.outcomes,
            "problems": self.problems,
            "cell_errors": list(getattr(submission, "recorded_cell_errors", [])),
        }
        Path(path).write_text(json.dumps(data, indent=1), encoding="utf-8")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """The assignment's nbgrader test cells become checks beside the hidden pytest ones (autograder/testcells.py);
    with ``--ag-first``, the checks that name those functions run first."""
    path = config.getoption("--ag-testcells")
    if path:
        from ..testcells import read_spec

        tests, manual, imports = read_spec(Path(path))
        config._ag_manual = manual
        for cell in tests:
            item = TestCellItem.from_parent(session, name=cell.grade_id, nodeid=cell.test_id, cell=cell,
                                            imports=imports)
            item.add_marker(pytest.mark.points(cell.points))
            items.append(item)
    # `autograder mutate` stops a mutant at its first failed check: the checks that call the mutated function go
    # first (a stable sort), so a killed mutant costs those checks rather than every training check before them.
    first = set(config.getoption("--ag-first") or ())
    if first:
        items.sort(key=lambda item: not (first & names_used(item)))


def names_used(item: pytest.Item) -> set[str]:
    """Global and attribute names a check's code (nested functions included) refers to."""
    names: set[str] = set()
    codes = [getattr(getattr(item, "function", None), "__code__", None)]
    while codes:
        code = codes.pop()
        if code is not None:
            names.update(code.co_names)
            codes += [c for c in code.co_consts if hasattr(c, "co_names")]
    return names


class TestCellItem(pytest.Item):
    """One nbgrader test cell: run by trusted code against the submission, or (marked) read from the sandbox's
    run of the notebook, forgeable."""

    __test__ = False

    def __init__(self, *, cell: Any, imports: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.cell, self.imports = cell, imports
        self.ag_description = cell.description
        self.ag_forgeable = cell.sandbox
        self.ag_failure: str | None = None

    def runtest(self) -> None:
        from ..testcells import FORGEABLE, CellRun, failure_message

        submission = submission_of(self.config)
        if self.cell.sandbox:
            errors = [e for e in map(_as_dict, submission.cell_errors) if e.get("cell") == self.cell.grade_id]
            if errors:
                self.ag_failure = _("test cell {cell} raised {error} ({why})", cell=self.cell.grade_id,
                                    error=errors[0].get("error_type"), why=_(FORGEABLE))
                raise AssertionError(self.ag_failure)
            return
        try:
            CellRun(submission, self.cell, self.imports).execute()
        except Exception as exc:
            self.ag_failure = failure_message(self.cell, exc)
            raise

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, self.cell.test_id


def _as_dict(error: Any) -> dict[str, Any]:
    return error if isinstance(error, dict) else vars(error)


def submission_of(config: pytest.Config) -> Any:
    """The submission under test, made once per session (the fixture and test-cell items share it)."""
    if getattr(config, "_ag_submission", None) is not None:
        return config._ag_submission
    from ..notebooks import CodeCell
    from ..transports.inprocess import InProcessSubmission

    if _provider is not None:
        config._ag_submission = _provider(config)
        return config._ag_submission
    cells = [CodeCell(**c) for c in json.loads(Path(config.getoption("--ag-cells")).read_text("utf-8"))]
    workdir = Path(config.getoption("--ag-workdir") or ".")
    probes = Path(str(config.rootpath)) / "probes.py"
    sub = InProcessSubmission.run(cells, workdir, probes.read_text("utf-8") if probes.is_file() else None)
    config._ag_submission = sub
    return sub


@pytest.fixture(scope="session")
def submission(request: pytest.FixtureRequest):
    """The submission under test: its top-level names, called across the backend's boundary."""
    return submission_of(request.config)
