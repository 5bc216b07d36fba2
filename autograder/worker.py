"""A grading worker: a trusted process holding one warm sandbox, running the hidden checks job after job.

The grader starts one worker per parallel job (`python -I -m autograder.worker CONFIG`), sends one JSON line per
submission (its code cells) on stdin and reads one JSON line of raw results back. pytest runs here, in the
trusted process, with the ``submission`` fixture bound to the sandboxed child of the current submission; the
heavy imports (pytest, numpy, torch, the checks' own modules) are paid once per worker, not per submission.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from . import sandboxes
from .harness import plugin as harness_plugin
from .harness import pytest_args
from .i18n import set_language
from .notebooks import CodeCell
from .sandboxes.common import Limits, SandboxError
from .transports.remote import RemoteSubmission, Session

PR_SET_PDEATHSIG = 1
GRADER_PID = "AG_GRADER_PID"  # set by the pool that starts this worker


def _die_with_parent() -> None:
    """If the grader is killed, this worker dies too (and its sandbox with it: bwrap --die-with-parent)."""
    try:
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass
    # Gone already (this worker reparented)? Compared with the grader's pid, not with 1: the grader may be PID 1
    # itself (a container's entry point, or a run under `unshare --pid`).
    grader = int(os.environ.get(GRADER_PID, "0"))
    orphaned = os.getppid() != grader if grader else os.getppid() == 1
    if orphaned:
        sys.exit(1)


class Worker:
    def __init__(self, config: dict[str, Any]):
        self.hidden_dir = Path(config["hidden_dir"])
        self.testcells = Path(config["testcells"]) if config.get("testcells") else None
        probes = self.hidden_dir / "probes.py"
        self.probes = probes.read_text(encoding="utf-8") if probes.is_file() else None
        public = Path(config["public_dir"]) if config.get("public_dir") else None
        # `autograder mutate` needs only to know whether a mutant loses points: it stops at the first failed check
        # (the checks not run then count as failed, as the scoring is fail-closed).
        self.stop_early = ["--maxfail=1"] if config.get("stop_at_first_failure") else []
        self.sandbox = sandboxes.create(config, public, Limits(**config["limits"]))

    def start(self) -> None:
        self.sandbox.launch()
        with tempfile.TemporaryDirectory(prefix="ag-warm-") as tmp:  # import the checks and their libraries
            pytest.main([*pytest_args(self.hidden_dir, Path(tmp) / "r.json", self.testcells), "--collect-only"])
        self.sandbox.wait_ready()

    def grade(self, cells: list[CodeCell], first: list[str] = (), lang: str = "") -> dict[str, Any]:
        """Run the hidden checks against ``cells``; their descriptions and messages in ``lang``."""
        set_language(lang)
        session = Session(self.sandbox, cells, self.probes)
        harness_plugin.provide_submission(lambda config: RemoteSubmission(session))
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="ag-results-") as tmp:
            results = Path(tmp) / "results.json"
            try:
                pytest.main([*pytest_args(self.hidden_dir, results, self.testcells), *self.stop_early,
                             *(f"--ag-first={name}" for name in first)])
            finally:
                harness_plugin.provide_submission(None)
                output, check_output = session.finish()
            data = json.loads(results.read_text(encoding="utf-8")) if results.is_file() else \
                {"problems": ["the hidden checks produced no results"]}
        data.update(cell_errors=session.cell_errors, limit_events=session.limit_events, output=output,
                    check_output=check_output,
                    fatal=session.fatal, infrastructure_error=session.infrastructure_error,
                    seconds=time.monotonic() - started)
        if session.infrastructure_error or not self.sandbox.alive:
            self.sandbox.restart()
        return data

    def close(self) -> None:
        self.sandbox.close()


def main() -> None:
    _die_with_parent()
    config = json.loads(sys.argv[1])
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)  # pytest's terminal report goes nowhere; results travel as JSON on `channel`
    worker = Worker(config)
    try:
        worker.start()
    except (SandboxError, OSError) as exc:
        channel.write(json.dumps({"ready": False, "error": str(exc)}) + "\n")
        channel.flush()
        sys.exit(1)
    channel.write(json.dumps({"ready": True}) + "\n")
    channel.flush()
    signal.signal(signal.SIGTERM, _stop)
    try:
        for line in sys.stdin:
            job = json.loads(line)
            try:
                data = worker.grade([CodeCell(**c) for c in job["cells"]], job.get("first", []), job.get("lang") or "")
            except SandboxError as exc:
                worker.sandbox.restart()
                data = {"infrastructure_error": str(exc)}
            if STOPPING.is_set():  # pytest turned the interrupt into an "interrupted" session: abandon it
                break
            channel.write(json.dumps({"id": job["id"], **data}) + "\n")
            channel.flush()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the clean-up itself is not interrupted
        worker.close()


STOPPING = threading.Event()


def _stop(signum: int, frame: Any) -> None:
    """SIGTERM from the engine (the batch was interrupted): abandon the submission in hand, then clean up."""
    STOPPING.set()
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
