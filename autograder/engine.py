"""The grading engine: a pool of trusted workers, each with a warm sandbox, fed one submission at a time.

The engine never runs student code itself. It reads each notebook as data (size-capped JSON), merges it with
the release, and hands the code cells to a worker; the worker runs them in its sandbox and the hidden checks in
its own trusted pytest. Results are scored here, fail-closed, from the expected tests the trusted side
collected.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .config import Assignment, Course
from .errors import NotebookError, UserError
from .harness import CheckRun, score_results, submission_cells, write_spec
from .notebooks import CodeCell, code_to_run, imported_modules, read_notebook
from .sandbox import Cgroup, Limits, bwrap_path, remove_stale_sandboxes

WORKER_START_TIMEOUT = 300.0
# The trusted worker's own memory cap (its cgroup): pytest, torch, the checks' oracles and one decoded reply fit
# well inside it. The decoder's own bounds keep a hostile reply far below it; this is the last line.
WORKER_MEMORY = 4 * 1024**3
CLOSE_WAIT = 20.0  # seconds a worker gets to remove its sandbox when the batch is done
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


BACKENDS = ("local", "docker")


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r} (use {' or '.join(BACKENDS)})")


def remove_leftovers(backend: str) -> None:
    """Remove the sandboxes (runner folders and cgroups, or containers) of workers that are gone: a grader killed
    earlier, or a worker killed in this batch because it stopped answering."""
    if backend == "docker":
        from .docker_backend import remove_stale_containers
        remove_stale_containers()
    else:
        remove_stale_sandboxes()


class WorkerProcess:
    """One `python -m autograder.worker` child, spoken to in JSON lines.

    It runs in a session of its own, so a Ctrl-C at the terminal reaches only the grader, which then stops its
    workers in order (:meth:`close`); a grader killed outright takes its workers with it (PR_SET_PDEATHSIG).
    """

    def __init__(self, config: dict[str, Any], timeout: float):
        self.config, self.timeout = config, timeout
        self.process: subprocess.Popen | None = None
        self.cgroup: Cgroup | None = None
        self._next = 0
        self._lock = threading.Lock()
        self.stopping = False

    def start(self) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": str(self.config["limits"]["threads"]), "MPLBACKEND": "Agg",
               "PYTHONDONTWRITEBYTECODE": "1"}
        command = [sys.executable, "-I", "-m", "autograder.worker", json.dumps(self.config)]
        self.cgroup = Cgroup.create()
        if self.cgroup:  # a memory cap of its own, so no reply can make it take the machine down
            self.cgroup.set_limits(WORKER_MEMORY)
            command = self.cgroup.join_command(command)
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True, env=env, bufsize=1,
                                        start_new_session=True)
        hello = self._read(WORKER_START_TIMEOUT)
        if not hello or not hello.get("ready"):
            self.close("kill")
            raise UserError(f"a grading worker could not start its sandbox: {(hello or {}).get('error', 'no reply')}")

    def _read(self, timeout: float) -> dict[str, Any] | None:
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not box or not box[0]:
            return None
        return json.loads(box[0])

    def run(self, cells: list[CodeCell]) -> dict[str, Any]:
        if self.stopping:
            return {"infrastructure_error": "the batch was interrupted"}
        if self.process is None or self.process.poll() is not None:
            self.start()
        self._next += 1
        self.process.stdin.write(json.dumps({"id": self._next, "cells": [vars(c) for c in cells]}) + "\n")
        self.process.stdin.flush()
        reply = self._read(self.timeout)
        if reply is None or reply.get("id") != self._next:
            if not self.stopping:  # (a worker being stopped is already taken care of)
                self.close("kill")
            return {"infrastructure_error": "the grading worker stopped answering"}
        return reply

    def close(self, how: Literal["finish", "now", "kill"] = "finish") -> None:
        """End the worker and its sandbox (processes, cgroup, runner folder).

        ``finish``: close its input; it ends after the submission in hand. ``now``: SIGTERM; it abandons the
        submission. Either way it removes its sandbox itself within CLOSE_WAIT, or is killed. ``kill``: at once
        (a worker that stopped answering); the pool removes what it left when the batch ends (remove_leftovers).
        """
        with self._lock:
            if self.process is None:
                return
            if how != "kill" and self.process.poll() is None:
                try:
                    if how == "now":
                        self.process.terminate()
                    self.process.stdin.close()
                    self.process.wait(CLOSE_WAIT)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            self.process = None
            if self.cgroup:
                self.cgroup.remove()
                self.cgroup = None


class Pool:
    """``jobs`` workers for one assignment; ``map`` yields (key, Outcome) as runs finish."""

    def __init__(self, course: Course, assignment: Assignment, jobs: int = 1, backend: str = "local",
                 image: str | None = None, threads: int | None = None):
        check_backend(backend)
        docker: dict[str, Any] = {}
        if backend == "docker":  # checks the daemon, the image and the GPUs up front; one clear sentence each
            from .docker_backend import prepare
            docker = prepare(assignment, image or assignment.image, jobs)
            jobs = docker.pop("jobs")
        else:
            bwrap_path()
        self.backend = backend
        remove_leftovers(backend)
        limits = limits_for(assignment, jobs, threads)
        public = course.release_dir(assignment)
        self.config = {"hidden_dir": str(course.hidden_tests_dir(assignment).resolve()),
                       "public_dir": str(public.resolve()) if public.is_dir() else None,
                       "limits": vars(limits), "gpu": assignment.gpu.value != "none",
                       "preimport": release_imports(course, assignment), **docker}
        self.cells_dir = Path(tempfile.mkdtemp(prefix="ag-testcells-"))  # the test cells' text: trusted side only
        self.config["testcells"] = str(write_spec(course, assignment, self.cells_dir / "testcells.json"))
        weakref.finalize(self, shutil.rmtree, self.cells_dir, True)
        self.jobs = max(1, jobs)
        self.timeout = assignment.time_limit + GRACE

    def map(self, items: list[tuple[Any, list[CodeCell]]]) -> Iterator[tuple[Any, Outcome]]:
        """Grade ``items`` on the workers; closing the generator early (an interrupt) stops them in order."""
        todo: queue.Queue = queue.Queue()
        for item in items:
            todo.put(item)
        done: queue.Queue = queue.Queue()
        workers = [WorkerProcess(self.config, self.timeout) for _ in range(min(self.jobs, len(items)))]

        def drive(worker: WorkerProcess) -> None:
            try:
                while not worker.stopping:
                    try:
                        key, cells = todo.get_nowait()
                    except queue.Empty:
                        return
                    try:
                        done.put((key, run_once_more_on_failure(worker, cells)))
                    except Exception as exc:  # noqa: BLE001 - one broken run must not stop the batch
                        done.put((key, Outcome(CheckRun(), error=f"{type(exc).__name__}: {exc}")))
            finally:
                if not worker.stopping:  # (a stopped worker is closed by the interrupt below)
                    worker.close()

        threads = [threading.Thread(target=drive, args=(w,), daemon=True) for w in workers]
        for thread in threads:
            thread.start()
        finished = False
        try:
            for _ in items:
                yield done.get()
            finished = True
        finally:
            if not finished:  # interrupted: abandon the submissions in hand, remove every sandbox
                for worker in workers:
                    worker.stopping = True
                closers = [threading.Thread(target=w.close, args=("now",)) for w in workers]
                for closer in closers:
                    closer.start()
                for closer in closers:
                    closer.join()
            for thread in threads:
                thread.join()
            remove_leftovers(self.backend)  # what a worker killed in this batch left


def run_once_more_on_failure(worker: WorkerProcess, cells: list[CodeCell]) -> Outcome:
    """An infrastructure failure (a worker that stopped answering, a sandbox that failed twice) is never a grade:
    the submission runs once more, in a fresh worker if need be; a second failure stays an error, which the next
    `grade` run picks up again."""
    outcome = outcome_from(worker.run(cells))
    if outcome.error and not worker.stopping:
        outcome = outcome_from(worker.run(cells))
    return outcome


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
    for index, outcome in Pool(course, assignment, jobs).map(items):
        results[index] = outcome
        if on_done:
            on_done(index, outcome)
    return [results[i] for i in range(len(submissions))]
