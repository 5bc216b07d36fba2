"""The local sandbox: bubblewrap namespaces plus cgroup limits, holding a warm runner (see runner.py).

What the sandbox sees: the Python runtime and system libraries read-only, the runner's modules and settings, a
copy of the assignment's public files read-only at /work/public, and size-capped tmpfs scratch space. No network
(own network namespace), its own PID, IPC, UTS and user namespaces, no capabilities, and nothing of the grader's
environment or command line: bubblewrap starts with an empty environment and reads its arguments from a pipe, and
the runner reads its settings from a file. Each submission then gets namespaces of its own below the zygote (see
confine.py). Memory and process counts are capped by a cgroup per sandbox (v1 or v2); wall
time is enforced from here, by killing. If no cgroup is writable, memory falls back to RLIMIT_AS.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..errors import UserError
from .common import (
    BOOTSTRAP,
    CGROUP_NAME,
    CGROUP_ROOT,
    PREIMPORT,
    PUBLIC,
    RUNNER_DIR_PREFIX,
    SCRATCH,
    SETTINGS_FILE,
    Cgroup,
    Child,
    Limits,
    ReapInfo,
    SandboxError,
    _gib,
    left_by_dead_owner,
    owned_folder,
    parse_control_reply,
    reap_child,
    remove_folders_of_dead_owners,
    runner_env,
    spawn_child,
    write_runner_package,
    zygote_settings,
)

COPY_IN_FILES, COPY_IN_BYTES = 256, 64 * 1024**2  # public files beyond these are bound read-only, not copied in


def remove_stale_sandboxes() -> int:
    """Kill and remove sandboxes (cgroups and runner folders) left behind by a worker that was killed."""
    removed = remove_folders_of_dead_owners(RUNNER_DIR_PREFIX)
    for parent in (CGROUP_ROOT / "memory" / CGROUP_NAME, CGROUP_ROOT / "pids" / CGROUP_NAME,
                   CGROUP_ROOT / "unified" / CGROUP_NAME, CGROUP_ROOT / CGROUP_NAME):
        if not parent.is_dir():
            continue
        for child in parent.iterdir():
            if child.is_dir() and left_by_dead_owner(child.name, f"{CGROUP_NAME}-"):
                Cgroup([child], 1).remove()
                removed += 1
    return removed


def bwrap_path() -> str:
    path = shutil.which("bwrap")
    if not path:
        raise UserError("bubblewrap (bwrap) is not installed; run `make setup` or `apt-get install bubblewrap`")
    return path


def runtime_binds() -> list[str]:
    """Read-only binds for the OS libraries and this Python (interpreter, stdlib and the environment)."""
    args: list[str] = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for etc in ("/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives", "/etc/ssl/certs"):
        args += ["--ro-bind-try", etc, etc]
    for prefix in runtime_prefixes():
        args += ["--ro-bind", prefix, prefix]
    return args


def runtime_prefixes() -> list[str]:
    """This Python's installation and environment, where they are not under /usr."""
    prefixes = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), sys.prefix}
    return sorted(p for p in prefixes if not p.startswith("/usr/"))


def kept_in_wiped_places() -> list[str]:
    """The runtime folders that are bound inside a place the runner wipes (/tmp, /dev/shm, /work/scratch)."""
    return [p for p in runtime_prefixes() if p.startswith(("/tmp/", "/dev/shm/", "/work/scratch/"))]


def gpu_binds() -> list[str]:
    return [arg for dev in sorted(Path("/dev").glob("nvidia*")) for arg in ("--dev-bind", str(dev), str(dev))]


def bwrap_arguments(limits: Limits, gpu: bool, files: list[str]) -> list[str]:
    """bubblewrap's options, which it reads from a pipe (``--args``), so its command line shows none of them;
    ``files``: the options that copy the runner and the public files in (:func:`copy_in`)."""
    # the wiped tmpfs first, the runtime after: a runtime under /tmp (a venv in a CI checkout there) is bound on
    # top of the tmpfs instead of being hidden by it, and the runner's wipe leaves it alone (settings["keep"])
    args = ["--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534",
            "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--hostname", "sandbox",
            "--proc", "/proc", "--dev", "/dev",
            "--size", str(limits.scratch), "--tmpfs", "/dev/shm",
            "--size", str(limits.scratch), "--tmpfs", "/tmp",
            "--size", str(limits.scratch), "--tmpfs", SCRATCH,
            *runtime_binds(), *files]
    if gpu:
        args += gpu_binds()
    # Only the three size-capped tmpfs the runner wipes between submissions stay writable: bubblewrap's root
    # and /dev are tmpfs too, and a file left there would reach the next submission (attacks.md #25).
    args += ["--remount-ro", "/dev", "--remount-ro", "/"]
    env = runner_env(limits, path="/usr/bin:/bin")
    args += ["--clearenv", *[a for k, v in env.items() for a in ("--setenv", k, v)], "--chdir", SCRATCH]
    return args


def copy_in(runner_dir: Path) -> tuple[list[str], list[int]]:
    """Options that copy the runner's folder into the sandbox's own (read-only) root, as files rather than a bind
    mount, so that no path of the grader's machine shows in the sandbox's mount table; and the open files they
    read. Public files too, unless there are too many or too large (then they are bound, read-only)."""
    places = [(runner_dir / "agrunner", "/opt/autograder/agrunner"),
              (runner_dir / SETTINGS_FILE, f"/opt/autograder/{SETTINGS_FILE}")]
    args, fds = ["--perms", "0755", "--dir", "/opt/autograder"], []
    public = runner_dir / "public"
    if public.is_dir():
        found = list(public.rglob("*"))
        if len(found) <= COPY_IN_FILES and sum(p.stat().st_size for p in found if p.is_file()) <= COPY_IN_BYTES:
            places.append((public, PUBLIC))
        else:
            args += ["--ro-bind", str(public), PUBLIC]
    for source, target in places:
        for path in [source, *sorted(source.rglob("*"))] if source.is_dir() else [source]:
            inside = target + ("" if path == source else "/" + path.relative_to(source).as_posix())
            if path.is_dir():
                args += ["--perms", "0755", "--dir", inside]
            else:
                fds.append(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
                args += ["--perms", "0644", "--file", str(fds[-1]), inside]
    return args, fds


def zygote_command() -> list[str]:
    """The command bubblewrap runs (it must follow ``--args`` on the command line): nothing secret in it."""
    return [sys.executable, "-I", "-c", BOOTSTRAP, f"/opt/autograder/{SETTINGS_FILE}"]


def _runner_dir(public_dir: Path | None, settings: dict[str, Any]) -> Path:
    """The sandbox's read-only folder: the runner package, its settings, and a copy of the public files (a copy,
    so that no path of the grader's machine shows in the sandbox's mount table)."""
    folder = owned_folder(RUNNER_DIR_PREFIX)
    write_runner_package(folder)
    (folder / SETTINGS_FILE).write_text(json.dumps(settings), encoding="utf-8")
    if public_dir is not None and public_dir.is_dir():
        shutil.copytree(public_dir, folder / "public", ignore=shutil.ignore_patterns("*.ipynb"))
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


class BubblewrapSandbox:
    """A bubblewrap sandbox with a warm zygote; runs one submission at a time (spawn → requests → reap)."""

    def __init__(self, public_dir: Path | None, limits: Limits, gpu: bool = False,
                 preimport: list[str] | None = None):
        self.public_dir, self.limits, self.gpu = public_dir, limits, gpu
        self.preimport = PREIMPORT if preimport is None else preimport
        self.process: subprocess.Popen | None = None
        self.control: socket.socket | None = None
        self.cgroup: Cgroup | None = None
        self.runner_dir: Path | None = None
        self._oom_before = 0
        self._memory_limit = limits.memory

    # lifecycle
    def start(self, timeout: float = 120.0) -> None:
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the sandbox; it imports its libraries while the caller does other work (see wait_ready)."""
        self.cgroup = Cgroup.create()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        settings = zygote_settings(self.limits, self.preimport, 0 if self.cgroup else self.limits.memory,
                                   isolate=True, control_fd=theirs.fileno(), keep=kept_in_wiped_places())
        self.runner_dir = _runner_dir(self.public_dir, settings)
        files, file_fds = copy_in(self.runner_dir)
        args_read, args_write = os.pipe()
        cmd = [bwrap_path(), "--args", str(args_read), "--", *zygote_command()]
        if self.cgroup:
            cmd = self.cgroup.join_command(cmd)
        try:
            self.process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, start_new_session=True, env={},
                                            pass_fds=(theirs.fileno(), args_read, *file_fds))
        finally:
            for fd in (args_read, *file_fds):
                os.close(fd)
        arguments = bwrap_arguments(self.limits, self.gpu, files)
        with os.fdopen(args_write, "wb") as pipe:
            pipe.write(b"".join(arg.encode() + b"\0" for arg in arguments))
        theirs.close()
        self.control = mine

    def wait_ready(self, timeout: float = 120.0) -> None:
        reply = self._control_reply(timeout)
        if not reply.get("ready"):
            self.close()
            raise SandboxError("the sandbox did not start")
        if self.cgroup:
            self._memory_limit = self.cgroup.usage() + self.limits.memory
            self.cgroup.set_limits(self._memory_limit, self.limits.pids)

    def close(self) -> None:
        if self.control:
            self.control.close()
            self.control = None
        if self.process and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.cgroup:
            self.cgroup.remove()
            self.cgroup = None
        if self.process:
            self.process.wait()
            self.process = None
        if self.runner_dir:
            shutil.rmtree(self.runner_dir, ignore_errors=True)
            self.runner_dir = None

    def restart(self) -> None:
        self.close()
        self.start()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # one submission
    def spawn(self) -> Child:
        if self.cgroup:  # its limits too are re-asserted before every submission
            self.cgroup.set_limits(self._memory_limit, self.limits.pids)
            self._oom_before = self.cgroup.oom_kills()
        return spawn_child(self.control, lambda: self._control_reply(10.0), self.limits.output)

    def reap(self, child: Child, ended: bool = False) -> ReapInfo:
        """End the submission: kill all of its processes and wipe its files (or the whole sandbox)."""
        child.channel.close()
        status, healthy = reap_child(self.control, lambda: self._control_reply(10.0), ended)
        oom = bool(self.cgroup and self.cgroup.oom_kills() > self._oom_before)
        if not healthy:
            self.restart()  # the zygote was killed or stopped by the submission: start afresh
        return ReapInfo(status, oom)

    def _control_reply(self, timeout: float) -> dict:
        self.control.settimeout(timeout)
        try:
            data = self.control.recv(65536)
        except (TimeoutError, OSError) as exc:
            raise SandboxError(f"the runner did not answer ({type(exc).__name__})") from None
        return parse_control_reply(data)

    def describe_memory(self) -> str:
        return _gib(self.limits.memory)

