"""The local pool: grading workers as processes on this machine (`python -m autograder.worker`), one warm sandbox
each, fed one submission at a time over JSON lines; ``map`` yields (key, Outcome) as runs finish."""

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
from pathlib import Path
from typing import Any, Literal

from ..config import Assignment, Course
from ..engine import GRACE, Outcome, outcome_from, release_imports, worker_config
from ..errors import UserError
from ..harness import CheckRun, write_spec
from ..notebooks import CodeCell
from ..sandboxes import remove_leftovers
from ..sandboxes.common import Cgroup
from ..worker import GRADER_PID

WORKER_START_TIMEOUT = 300.0
# The trusted worker's own memory cap (its cgroup): pytest, torch, the checks' oracles and one decoded reply fit
# well inside it. The decoder's own bounds keep a hostile reply far below it; this is the last line.
WORKER_MEMORY = 4 * 1024**3
CLOSE_WAIT = 20.0  # seconds a worker gets to remove its sandbox when the batch is done


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
               "PYTHONDONTWRITEBYTECODE": "1", GRADER_PID: str(os.getpid())}
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

    def run(self, cells: list[CodeCell], first: list[str] = (), lang: str = "") -> dict[str, Any]:
        """One submission's raw results; ``lang``: the language its checks' descriptions and messages are in."""
        if self.stopping:
            return {"infrastructure_error": "the batch was interrupted"}
        if self.process is None or self.process.poll() is not None:
            self.start()
        self._next += 1
        job = {"id": self._next, "cells": [vars(c) for c in cells], "first": list(first), "lang": lang}
        self.process.stdin.write(json.dumps(job) + "\n")
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
        public = course.release_dir(assignment)
        self.config = worker_config(assignment, course.hidden_tests_dir(assignment),
                                    public if public.is_dir() else None, release_imports(course, assignment),
                                    jobs, backend=backend, image=image, threads=threads)
        self.cells_dir = Path(tempfile.mkdtemp(prefix="ag-testcells-"))  # the test cells' text: trusted side only
        self.config["testcells"] = str(write_spec(course, assignment, self.cells_dir / "testcells.json"))
        weakref.finalize(self, shutil.rmtree, self.cells_dir, True)
        self.backend = backend
        remove_leftovers(backend)
        self.jobs = max(1, self.config.pop("jobs"))
        self.timeout = assignment.time_limit + GRACE
        # names of functions whose checks a run should start with, per item key (`autograder mutate`: the
        # mutated function, so that a killed mutant stops early)
        self.first_checks: Callable[[Any], list[str]] = lambda key: []

    def map(self, items: list[tuple[Any, list[CodeCell]]] | list[tuple[Any, list[CodeCell], str]]
            ) -> Iterator[tuple[Any, Outcome]]:
        """Grade ``items`` (key, cells[, language]) on the workers; closing the generator early (an interrupt)
        stops them in order."""
        todo: queue.Queue = queue.Queue()
        for item in items:
            todo.put(item)
        done: queue.Queue = queue.Queue()
        workers = [WorkerProcess(self.config, self.timeout) for _ in range(min(self.jobs, len(items)))]

        def drive(worker: WorkerProcess) -> None:
            try:
                while not worker.stopping:
                    try:
                        key, cells, *lang = todo.get_nowait()
                    except queue.Empty:
                        return
                    try:
                        done.put((key, run_once_more_on_failure(worker, cells, self.first_checks(key), *lang)))
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


def run_once_more_on_failure(worker: WorkerProcess, cells: list[CodeCell], first: list[str] = (),
                             lang: str = "") -> Outcome:
    """An infrastructure failure (a worker that stopped answering, a sandbox that failed twice) is never a grade:
    the submission runs once more, in a fresh worker if need be; a second failure stays an error, which the next
    `grade` run picks up again."""
    outcome = outcome_from(worker.run(cells, first, lang))
    if outcome.error and not worker.stopping:
        outcome = outcome_from(worker.run(cells, first, lang))
    return outcome


