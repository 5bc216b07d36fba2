"""Grading on a Ray cluster: each grading worker is a Ray actor placed on one of the cluster's nodes.

An actor holds an ordinary grading worker (:class:`autograder.engine.WorkerProcess`: a trusted pytest process and
a sandbox on its own node, bubblewrap or Docker as ``--backend`` says). What travels is data only: the hidden
checks and the release as one content-addressed archive in Ray's object store (no shared file system), each
submission's code cells out, the worker's raw JSON results back. The driver scores them (``outcome_from``) and is
the only writer of the gradebook and the files, so resuming, exports and reports work as with the local pool.

Faults: an actor that dies (its node lost, its process killed, or stuck past the submission's time limit and
killed here) raises ``RayActorError`` for the submission it held; that submission goes back in the queue for a
live actor and a replacement actor is asked for (placed wherever the cluster has room). Grading is idempotent, so
at-least-once is safe. A submission that was in hand when ``LOST_LIMIT`` workers died is recorded as an
infrastructure error with that reason (the next ``grade`` run tries it again) instead of being retried for ever.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Assignment, Course
from ..engine import GRACE, Outcome, outcome_from, release_imports
from ..errors import UserError
from ..harness import CheckRun, write_spec
from ..notebooks import CodeCell
from .local import WORKER_START_TIMEOUT

GRADER_RESOURCE = "grader"  # a node offers {"grader": N} to host N grading workers
LOST_LIMIT = 2              # workers that may die holding one submission before it is given up for this run
POLL = 0.5                  # seconds between looks at in-flight work (timeouts, placement)
CONNECT_TIMEOUT = 10.0      # seconds to reach the cluster's address at all


def connect(address: str) -> None:
    """Join the cluster at ``address`` (``ray://HOST:PORT``, ``HOST:PORT`` or ``auto``) once per process."""
    try:
        import ray
    except ImportError:
        raise UserError("grading on a cluster needs Ray: run `make setup` (or pip install -r "
                        "requirements-cluster.lock)") from None
    if ray.is_initialized():
        return
    _check_reachable(address)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise UserError(f"no Ray cluster answers at {address}: {str(exc).splitlines()[0]}") from None


def _check_reachable(address: str) -> None:
    """Ray retries an unreachable address for minutes; a closed port should be one sentence at once."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
    except ValueError:
        raise UserError(f"{address} is not a Ray address (ray://HOST:PORT, HOST:PORT or auto)") from None
    except OSError as exc:
        raise UserError(f"no Ray cluster answers at {address}: {exc.strerror or exc}") from None


def pack_checks(course: Course, assignment: Assignment) -> tuple[str, bytes]:
    """The hidden checks, the release and the nbgrader test cells as one gzip archive, with a digest of its
    content."""
    def skip_caches(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if "__pycache__" in info.name.split("/"):
            return None
        info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""  # same content, same digest
        return info

    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="ag-pack-") as tmp, \
            tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as tar:
        hidden = course.hidden_tests_dir(assignment)
        if hidden.is_dir():  # (an nbgrader course may have only test cells)
            tar.add(hidden, arcname="hidden", filter=skip_caches)
        public = course.release_dir(assignment)
        if public.is_dir():
            tar.add(public, arcname="public", filter=skip_caches)
        tar.add(write_spec(course, assignment, Path(tmp) / "testcells.json"), arcname="testcells.json",
                filter=skip_caches)
    data = buffer.getvalue()
    return hashlib.sha256(data).hexdigest()[:16], data


def unpack_checks(digest: str, data: bytes) -> Path:
    """The archive unpacked once per node (atomically: a folder named by its digest appears complete or not)."""
    root = Path(tempfile.gettempdir()) / f"autograder-checks-{digest}"
    if not root.is_dir():
        staging = Path(tempfile.mkdtemp(prefix=f"autograder-checks-{digest}-"))
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            tar.extractall(staging, filter="data")
        try:
            staging.rename(root)
        except OSError:  # another actor on this node got there first
            pass
    return root


class GraderActor:
    """Runs on a cluster node (as a Ray actor): one warm grading worker, fed one submission at a time."""

    def __init__(self, digest: str, package: bytes, assignment: dict[str, Any], preimport: list[str],
                 backend: str, image: str | None) -> None:
        from ..engine import worker_config
        from ..sandboxes import remove_leftovers
        from .local import WorkerProcess

        root = unpack_checks(digest, package)
        spec = Assignment.model_validate(assignment)
        public = root / "public"
        config = worker_config(spec, root / "hidden", public if public.is_dir() else None, preimport, jobs=1,
                               backend=backend, image=image, threads=1)
        config.pop("jobs")
        config["testcells"] = str(root / "testcells.json")
        remove_leftovers(backend)  # sandboxes of workers that died on this node earlier
        self.worker = WorkerProcess(config, spec.time_limit + GRACE)
        self.worker.start()

    def ready(self) -> str:
        import ray

        return ray.get_runtime_context().get_node_id()

    def grade(self, cells: list[dict[str, str]], lang: str = "") -> dict[str, Any]:
        return self.worker.run([CodeCell(**cell) for cell in cells], lang=lang)

    def close(self) -> None:
        self.worker.close()


@dataclass
class _Job:
    key: Any
    cells: list[CodeCell]
    lang: str = ""   # the language of the checks' descriptions and messages (the submission's)
    lost: int = 0    # workers that died holding it
    tries: int = 0   # runs that ended in an infrastructure error (one more run is allowed, as locally)


@dataclass
class _Slot:
    actor: Any
    node: str = ""
    job: _Job | None = None
    ref: Any = None
    since: float = field(default_factory=time.monotonic)


class RayPool:
    """Grading workers on a Ray cluster; ``map`` yields (key, Outcome) as runs finish, like the local pool."""

    def __init__(self, course: Course, assignment: Assignment, address: str, jobs: int | None = None,
                 backend: str = "local", image: str | None = None) -> None:
        connect(address)
        import ray

        self.assignment = assignment
        digest, data = pack_checks(course, assignment)
        self.package = ray.put(data)
        self.args = (digest, self.package, json.loads(assignment.model_dump_json()),
                     release_imports(course, assignment), backend, image)
        resources = ray.cluster_resources()
        slots = int(resources.get(GRADER_RESOURCE, 0)) or int(resources.get("CPU", 1))
        self.jobs = max(1, jobs or slots)
        self.options = self._placement(resources)
        self.timeout = assignment.time_limit + GRACE
        self.lost_workers = 0  # actors that died during the last map (reported to the caller)
        self.events: list[str] = []

    def _placement(self, resources: dict[str, float]) -> dict[str, Any]:
        """One grader slot per actor (or one CPU where nodes offer none); one GPU per job for GPU weeks."""
        gpu = self.assignment.gpu.value
        options: dict[str, Any] = {"max_restarts": 0}
        if resources.get(GRADER_RESOURCE):
            options.update(num_cpus=0, resources={GRADER_RESOURCE: 1})
        else:
            options.update(num_cpus=1)
        if gpu == "required" or (gpu == "optional" and resources.get("GPU")):
            options["num_gpus"] = 1
        return options

    def _start_actor(self) -> _Slot:
        import ray

        actor = ray.remote(GraderActor).options(**self.options).remote(*self.args)
        return _Slot(actor, ref=actor.ready.remote())

    def map(self, items: list[tuple[Any, list[CodeCell]]] | list[tuple[Any, list[CodeCell], str]]
            ) -> Iterator[tuple[Any, Outcome]]:
        """Grade ``items`` (key, cells[, language]) on the cluster; closing the generator early kills the actors it
        started."""
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError

        todo = [_Job(key, cells, *lang) for key, cells, *lang in items]
        starting = [self._start_actor() for _ in range(min(self.jobs, len(todo)))]
        idle: list[_Slot] = []
        busy: list[_Slot] = []
        remaining = len(todo)
        start_errors: list[str] = []
        self.lost_workers, self.events = 0, []

        def lose(slot: _Slot, why: str) -> None:
            """A worker is gone: ask for a replacement while there is more work than workers."""
            self.lost_workers += 1
            self.events.append(why)
            ray.kill(slot.actor, no_restart=True)
            if remaining > len(idle) + len(busy) + len(starting):
                starting.append(self._start_actor())

        try:
            while remaining:
                for slot in list(starting):  # placed and warm, failed to start, or never placed
                    done, _ = ray.wait([slot.ref], timeout=0)
                    if done:
                        starting.remove(slot)
                        try:
                            slot.node = ray.get(slot.ref)
                            idle.append(slot)
                        except RayActorError as exc:
                            start_errors.append(_first_line(exc))
                    elif time.monotonic() - slot.since > WORKER_START_TIMEOUT:
                        starting.remove(slot)
                        ray.kill(slot.actor, no_restart=True)
                        start_errors.append("no cluster node could take a grading worker in time")
                while todo and idle:
                    slot, job = idle.pop(), todo.pop(0)
                    slot.job, slot.since = job, time.monotonic()
                    slot.ref = slot.actor.grade.remote([vars(c) for c in job.cells], job.lang)
                    busy.append(slot)
                if not busy and not starting:  # nothing can run what is left
                    why = "; ".join(dict.fromkeys(start_errors)) or "the cluster has no grading workers left"
                    for job in todo:
                        remaining -= 1
                        yield job.key, Outcome(CheckRun(), error=f"not graded: {why}")
                    todo.clear()
                    break
                done, _ = ray.wait([s.ref for s in busy], num_returns=1, timeout=POLL) if busy else ([], [])
                for slot in [s for s in busy if s.ref in done]:
                    busy.remove(slot)
                    job = slot.job
                    try:
                        outcome = outcome_from(ray.get(slot.ref, timeout=self.timeout))
                    except (RayActorError, GetTimeoutError) as exc:
                        job.lost += 1
                        lose(slot, f"a grading worker on node {slot.node[:8]} was lost: {_first_line(exc)}")
                        if job.lost >= LOST_LIMIT:
                            remaining -= 1
                            yield job.key, Outcome(CheckRun(), error=f"{job.lost} grading workers died while "
                                                   "grading this submission (a lost node, or the submission)")
                        else:
                            todo.insert(0, job)
                        continue
                    slot.job = None
                    idle.append(slot)
                    if outcome.error and job.tries == 0:  # as locally: one more run before it is an error
                        job.tries += 1
                        todo.insert(0, job)
                        continue
                    remaining -= 1
                    yield job.key, outcome
                for slot in [s for s in busy if time.monotonic() - s.since > self.timeout]:
                    busy.remove(slot)  # stuck past every limit: its result is not coming
                    slot.job.lost += 1
                    todo.insert(0, slot.job)
                    lose(slot, f"a grading worker on node {slot.node[:8]} stopped answering")
        finally:
            everyone = idle + busy + starting
            closing = [s.actor.close.remote() for s in idle]
            if closing:
                ray.wait(closing, num_returns=len(closing), timeout=30)
            for slot in everyone:
                ray.kill(slot.actor, no_restart=True)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    errors = [line for line in lines if "Error:" in line and not line.startswith("File ")]
    return (errors[-1] if errors else lines[0] if lines else type(exc).__name__)[:300]
