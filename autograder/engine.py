"""The grading engine: what a submission becomes before a worker runs it, and what a worker's raw results become.

The engine never runs student code itself. It reads each notebook as data (size-capped JSON), merges it with
the release, and hands the code cells to a pool of trusted workers (:mod:`autograder.pools`: processes here,
or actors on a cluster), each holding a warm sandbox (:mod:`autograder.sandboxes`); a worker runs the cells in
its sandbox and the hidden checks in its own trusted pytest. Results are scored here (:func:`outcome_from`),
fail-closed, from the expected tests the trusted side collected.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Assignment, Course
from .errors import NotebookError
from .harness import CheckRun, score_results, submission_cells
from .notebooks import CodeCell, code_to_run, imported_modules, read_notebook
from .sandboxes import prepare as prepare_sandbox
from .sandboxes.common import Limits

GRACE = 30.0  # seconds a worker may take beyond the submission's own limit before it is presumed dead


def limits_for(assignment: Assignment, jobs: int, threads: int | None = None) -> Limits:
    """The sandbox limits; by default the CPUs are shared out between the parallel jobs as threads."""
    threads = threads or max(1, (os.cpu_count() or 1) // max(1, jobs))
    return Limits(memory=assignment.memory, call_time=min(assignment.call_time_limit, assignment.time_limit),
                  total_time=assignment.time_limit, threads=threads)


@dataclass
class Outcome:
    """What one worker run produced, scored."""

    run: CheckRun
    output: str = ""        # printed while the notebook ran (students may see it)
    check_output: str = ""  # printed while hidden checks called it: may echo their inputs, course staff only
    reason: str = ""        # limits hit, or why the run could not happen
    error: str | None = None  # an infrastructure failure: the result should not be trusted as a grade
    seconds: float = 0.0


def outcome_from(data: dict[str, Any]) -> Outcome:
    if data.get("infrastructure_error") and not data.get("expected"):
        return Outcome(CheckRun(), error=str(data["infrastructure_error"]))
    run = score_results(data)
    run.cell_errors = data.get("cell_errors", [])
    reasons = list(dict.fromkeys(data.get("limit_events", [])))
    if data.get("fatal") and data["fatal"] not in reasons:
        reasons.append(data["fatal"])
    return Outcome(run, output=data.get("output", ""), check_output=data.get("check_output", ""),
                   reason="; ".join(reasons),
                   error=data.get("infrastructure_error"), seconds=float(data.get("seconds", 0.0)))


def worker_config(assignment: Assignment, hidden_dir: Path, public_dir: Path | None, preimport: list[str], jobs: int,
                  backend: str = "local", image: str | None = None, threads: int | None = None) -> dict[str, Any]:
    """What a grading worker is started with (plain JSON); the sandbox is checked first, one clear sentence each.

    ``jobs`` comes back under "jobs": Docker may lower it to the GPUs there are. Called where the workers will run
    (this machine, or a cluster node with its own copy of the checks).
    """
    sandbox = {"backend": backend, **prepare_sandbox(assignment, backend, image, jobs)}
    limits = limits_for(assignment, sandbox["jobs"], threads)
    return {"hidden_dir": str(hidden_dir.resolve()), "public_dir": str(public_dir.resolve()) if public_dir else None,
            "limits": vars(limits), "gpu": assignment.gpu.value != "none", "preimport": preimport, **sandbox}


def release_imports(course: Course, assignment: Assignment) -> list[str]:
    """What the released notebooks import: the warm runner preloads exactly that."""
    notebooks = [course.release_dir(assignment) / name for name in assignment.notebooks]
    cells = [c for nb in notebooks if nb.is_file() for c in code_to_run(read_notebook(nb).cells)]
    return imported_modules(cells)


def prepare(course: Course, assignment: Assignment, notebooks: list[Path]) -> list[CodeCell]:
    """The code cells of a submission, or a :class:`NotebookError` saying why it cannot be graded."""
    return submission_cells(course, assignment, notebooks)


def run_notebooks(course: Course, assignment: Assignment, submissions: list[list[Path]], jobs: int = 1,
                  on_done: Callable[[int, Outcome], None] | None = None) -> list[Outcome]:
    """Grade trusted notebook sets (reference, blank, known-wrong) through the sandbox, in order."""
    results: dict[int, Outcome] = {}
    items = []
    for index, notebooks in enumerate(submissions):
        try:
            items.append((index, prepare(course, assignment, notebooks)))
        except NotebookError as exc:
            results[index] = Outcome(CheckRun(problems=[str(exc)]), error=str(exc))
    from .pools.local import Pool  # (the pool imports this module)

    for index, outcome in Pool(course, assignment, jobs).map(items):
        results[index] = outcome
        if on_done:
            on_done(index, outcome)
    return [results[i] for i in range(len(submissions))]
