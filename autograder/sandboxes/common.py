"""What every sandbox shares: the limits, the cgroups that enforce them, the runner package and settings it
starts, and the channel to the warm runner (spawning a submission's process, draining its output, reaping it).

The sandboxes themselves are the other modules here: bubblewrap (local) and docker (the runner image).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..protocol import ProtocolError, read_message
from ..syscall_filter import submission_filter

RUNNER_MODULES = ("protocol.py", "runner.py", "confine.py", "shell.py", "matplotlibrc")  # (and its plot settings)
BOOTSTRAP = "import sys; sys.path.insert(0, '/opt/autograder'); from agrunner.runner import main; main()"
SETTINGS_FILE = "settings.json"  # in the runner's folder, next to agrunner/
HELLO_TIMEOUT = 30.0  # seconds for a new submission process to confine itself and say it is ready
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_NAME = "autograder"
RUNNER_DIR_PREFIX = "ag-runner-"
SCRATCH = "/work/scratch"  # the submission's working folder, in either backend
PUBLIC = "/work/public"    # the assignment's public files, read-only
PREIMPORT = ["numpy", "torch", "matplotlib", "matplotlib.pyplot", "scipy", "scipy.stats"]


class SandboxError(Exception):
    """The sandbox itself failed (not the submission): the grader records an error and may retry."""


@dataclass(frozen=True)
class Limits:
    """Everything enforced on one submission."""

    memory: int = 2 * 1024**3          # bytes of RAM for the submission (the warm runtime comes on top)
    pids: int = 256                    # processes and threads in the sandbox
    scratch: int = 512 * 1024**2       # tmpfs size of /work/scratch and of /tmp, each
    file_size: int = 256 * 1024**2     # RLIMIT_FSIZE
    nofile: int = 256
    output: int = 256 * 1024           # bytes of printed output kept; the rest is discarded
    message: int = 64 * 1024**2        # largest message accepted from the runner
    call_time: float = 60.0            # seconds per call
    total_time: float = 300.0          # seconds per submission
    threads: int = 1                   # torch / OpenMP threads


def _gib(size: int) -> str:
    return f"{size / 1024**3:g} GiB" if size >= 1024**3 else f"{size / 1024**2:g} MiB"


# --- cgroups -------------------------------------------------------------------------------------

class Cgroup:
    """Memory and pids limits for one sandbox, on cgroup v2 or the v1 memory and pids hierarchies."""

    def __init__(self, dirs: list[Path], version: int):
        self.dirs, self.version = dirs, version

    @classmethod
    def create(cls) -> Cgroup | None:
        name = f"{CGROUP_NAME}-{owner_token()}-{uuid.uuid4().hex[:8]}"
        v1 = [CGROUP_ROOT / "memory", CGROUP_ROOT / "pids"]
        candidates = [([d / CGROUP_NAME / name for d in v1], 1)]
        unified = CGROUP_ROOT / "unified" if (CGROUP_ROOT / "unified").is_dir() else CGROUP_ROOT
        candidates.append(([unified / CGROUP_NAME / name], 2))
        for dirs, version in candidates:
            try:
                if version == 1 and not all(d.parent.parent.joinpath("cgroup.procs").exists() for d in dirs):
                    continue
                if version == 2:
                    controllers = (unified / "cgroup.controllers").read_text().split()
                    if not {"memory", "pids"} <= set(controllers):
                        continue
                    (unified / CGROUP_NAME).mkdir(exist_ok=True)
                    (unified / CGROUP_NAME / "cgroup.subtree_control").write_text("+memory +pids")
                for d in dirs:
                    d.mkdir(parents=True, exist_ok=True)
                return cls(dirs, version)
            except OSError:
                continue
        return None

    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def join_command(self, command: list[str]) -> list[str]:
        """``command`` started inside this cgroup from its first instruction (a shell joins, then execs it)."""
        join = 'while [ "$1" != "--" ]; do echo $$ > "$1" || exit 97; shift; done; shift; exec "$@"'
        return ["/bin/sh", "-c", join, "sh", *self.procs_files(), "--", *command]

    def _write(self, name: str, value: str | int) -> None:
        for d in self.dirs:
            if (d / name).exists():
                (d / name).write_text(str(value))

    def usage(self) -> int:
        name = "memory.usage_in_bytes" if self.version == 1 else "memory.current"
        return int((self.dirs[0] / name).read_text())

    def set_limits(self, memory: int, pids: int | None = None) -> None:
        if self.version == 1:
            self._write("memory.limit_in_bytes", memory)
            self._write("memory.memsw.limit_in_bytes", memory)
        else:
            self._write("memory.max", memory)
            self._write("memory.swap.max", 0)
        if pids is not None:
            self._write("pids.max", pids)

    def oom_kills(self) -> int:
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        for line in (self.dirs[0] / name).read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def pids(self) -> set[int]:
        found: set[int] = set()
        for d in self.dirs:
            try:
                found |= {int(p) for p in (d / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return found

    def kill_all(self) -> None:
        deadline = time.monotonic() + 5
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)

    def remove(self) -> None:
        self.kill_all()
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return None


def owner_token(pid: int | None = None) -> str:
    """``<pid>-<start time>``: names a process unambiguously, even after its pid is reused. Cgroups, runner
    folders and runner containers carry their worker's token in their names, so a later grader can tell which
    ones were left by a worker that is gone."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}-{_start_time(pid) or 0}"


def owner_alive(token: str) -> bool:
    pid, _, started = token.partition("-")
    return pid.isdigit() and _start_time(int(pid)) == started


def left_by_dead_owner(name: str, prefix: str) -> bool:
    """``name`` is ``<prefix><owner token>-<suffix>`` and that owner is gone."""
    return name.startswith(prefix) and not owner_alive(name.removeprefix(prefix).rpartition("-")[0])


def owned_folder(prefix: str) -> Path:
    """A new folder ``<tmp>/<prefix><this process's token>-<random>``, removable by a later grader once this
    process is gone (:func:`remove_folders_of_dead_owners`)."""
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{owner_token()}-"))


def remove_folders_of_dead_owners(prefix: str) -> int:
    """Remove the folders :func:`owned_folder` made for ``prefix`` whose owner is gone."""
    removed = 0
    for folder in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        if folder.is_dir() and left_by_dead_owner(folder.name, prefix):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


# --- the runner, as either sandbox starts it ---------------------------------------------------

def runner_env(limits: Limits, path: str) -> dict[str, str]:
    """The runner's whole environment (nothing inherited from the grader), in either backend."""
    return {"PATH": path, "HOME": SCRATCH, "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": "/tmp/.matplotlib", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
            "OMP_NUM_THREADS": str(limits.threads), "MKL_NUM_THREADS": str(limits.threads)}


def zygote_settings(limits: Limits, preimport: list[str], address_space: int, isolate: bool, **where: Any
                    ) -> dict[str, Any]:
    """What the zygote is started with (runner.zygote); ``where`` says how it reaches the trusted side;
    ``isolate``: a user, PID, mount, IPC and network namespace per submission (the local sandbox)."""
    return {**where, "preimport": preimport, "threads": limits.threads, "isolate": isolate,
            "filter": submission_filter().hex(),
            "limits": {"file_size": limits.file_size, "nofile": limits.nofile, "message": limits.message,
                       "address_space": address_space}}


def write_runner_package(folder: Path) -> None:
    """``folder/agrunner``: the runner and its protocol, all the code the sandbox or the image gets from us."""
    package = folder / "agrunner"
    package.mkdir()
    (package / "__init__.py").write_text("")
    here = Path(__file__).parents[1]  # autograder/
    for name in RUNNER_MODULES:
        shutil.copy(here / name, package / name)


# --- a running sandbox ---------------------------------------------------------------------------

class OutputDrain:
    """Reads a child's printed output in a thread, keeping the first ``cap`` bytes of each part, counting the rest.

    Two parts: what the submission printed before :meth:`seal` (its notebook's own run, before any hidden input
    reached it: students may see it) and after (while hidden checks call it, when it may print their inputs: for
    the course staff only, never in feedback, result.json or exports; attacks.md #36).
    """

    def __init__(self, fd: int, cap: int):
        self.cap = cap
        self.parts, self.dropped = [bytearray(), bytearray()], [0, 0]
        self.sealed, self._eof, self._fd = False, False, fd
        self._lock = threading.Lock()
        os.set_blocking(fd, False)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN | select.POLLHUP)
        while not self._eof:
            poller.poll()
            with self._lock:
                self._read_available()
        os.close(self._fd)

    def _read_available(self) -> None:
        while not self._eof:
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            if not chunk:
                self._eof = True
                return
            part = self.parts[self.sealed]
            room = max(0, self.cap - len(part))
            part += chunk[:room]
            self.dropped[self.sealed] += max(0, len(chunk) - room)

    def seal(self, keep: bool = True) -> None:
        """Everything written so far belongs to the first part (a write completes before the reply that follows
        it is sent); everything after, to the second. ``keep=False``: the first part stays empty."""
        with self._lock:
            if keep:
                self._read_available()
            self.sealed = True

    def text(self, wait: float = 1.0, part: int = 0) -> str:
        self._thread.join(wait)
        with self._lock:
            text = self.parts[part].decode("utf-8", errors="replace")
            dropped = self.dropped[part]
        return text + (f"\n[… {dropped} more bytes of output were discarded]" if dropped else "")

    def staff_text(self) -> str:
        return self.text(wait=0.0, part=1)


@dataclass
class Child:
    """One submission's process: its request channel and its output."""

    channel: socket.socket
    output: OutputDrain
    number: int


def parse_control_reply(data: bytes) -> dict:
    """One JSON reply from the zygote on the control socket (a datagram: empty means it closed)."""
    if not data:
        raise SandboxError("the runner closed its control channel")
    try:
        reply = json.loads(data)
    except ValueError:
        raise SandboxError("the runner sent a malformed control reply") from None
    return reply if isinstance(reply, dict) else {}


def spawn_child(control: socket.socket, reply: Callable[[], dict], output_cap: int) -> Child:
    """Ask the zygote for a submission process, handing it the ends of a fresh channel and output pipe, and wait
    until that process is confined and says it is ready. Any failure up to then happened before student code ran:
    everything opened here is closed and SandboxError is raised (an infrastructure error, retried elsewhere)."""
    channel, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    read_fd, write_fd = os.pipe()
    spawned = None
    try:
        try:
            socket.send_fds(control, [json.dumps({"op": "spawn"}).encode()], [child_end.fileno(), write_fd])
        except OSError as exc:
            raise SandboxError(f"the runner is gone ({type(exc).__name__})") from None
        answer = reply()
        if answer.get("damaged"):
            raise SandboxError(f"the runner was found damaged ({str(answer['damaged'])[:200]})")
        spawned = answer.get("spawned")
        if spawned is None:
            raise SandboxError("the runner refused to start a submission")
    finally:
        child_end.close()
        os.close(write_fd)
        if spawned is None:
            os.close(read_fd)
            channel.close()
    child = Child(channel, OutputDrain(read_fd, output_cap), spawned)
    try:
        _await_hello(channel)
    except SandboxError as exc:
        channel.close()
        said = [line for line in child.output.text(wait=0.5).splitlines() if line.strip()]
        raise SandboxError(f"{exc}{': ' + said[-1][:300] if said else ''}") from None
    return child


def _await_hello(channel: socket.socket) -> None:
    try:
        hello = read_message(channel, 4096, deadline=time.monotonic() + HELLO_TIMEOUT)
    except (TimeoutError, EOFError, OSError, ProtocolError) as exc:
        raise SandboxError(f"the submission's process did not start ({type(exc).__name__})") from None
    if hello.get("id") != 0 or hello.get("ok") != "ready":
        raise SandboxError("the submission's process did not start (no hello)")


def reap_child(control: socket.socket, reply: Callable[[], dict], ended: bool = False) -> tuple[int | None, bool]:
    """Ask the zygote to end the submission (all its processes, all its files): the child's wait status and
    whether the zygote is still healthy; ``(None, False)`` when it is gone or does not answer. ``ended``: the
    submission's channel already closed, so its exit status is worth a moment's wait."""
    try:
        control.send(json.dumps({"op": "reap", "ended": ended}).encode())
        answer = reply()
    except (SandboxError, OSError):
        return None, False
    return (answer["status"] if type(answer.get("status")) is int else None), answer.get("reaped") is True


@dataclass
class ReapInfo:
    status: int | None
    oom_killed: bool


