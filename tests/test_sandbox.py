"""The local sandbox's handshake with its zygote when the zygote is gone (killed from outside, or by the
submission): every failure is a SandboxError or a restart, never a raw OSError that would escape the engine's
handling and lose the submission's result."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator

import pytest

from autograder.sandboxes.bubblewrap import BubblewrapSandbox as Sandbox
from autograder.sandboxes.common import Limits, SandboxError


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox(None, Limits(memory=256 * 1024**2, pids=64), preimport=[])
    box.start()
    try:
        yield box
    finally:
        box.close()


def _kill_zygote(box: Sandbox) -> None:
    """Kill the whole sandbox and wait until its end of the control socket is closed (a send now fails)."""
    os.killpg(box.process.pid, signal.SIGKILL)
    box.process.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if box.control.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                return
        except BlockingIOError:
            pass
        time.sleep(0.01)
    raise AssertionError("the zygote's end of the control socket stayed open")


def test_reaping_after_the_zygote_died_restarts_the_sandbox(sandbox: Sandbox):
    child = sandbox.spawn()
    first = sandbox.process.pid
    _kill_zygote(sandbox)
    info = sandbox.reap(child)
    assert info.status is None
    assert sandbox.alive and sandbox.process.pid != first, "a fresh sandbox for the next submission"
    sandbox.reap(sandbox.spawn())  # and it works


def test_spawning_after_the_zygote_died_is_a_sandbox_error(sandbox: Sandbox):
    _kill_zygote(sandbox)
    with pytest.raises(SandboxError, match=r"the runner is gone \(BrokenPipeError\)"):
        sandbox.spawn()
