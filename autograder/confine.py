"""Confining one submission's process, inside the sandbox (attacks.md rows 30-32).

Copied into the sandbox beside runner.py (package ``agrunner``); standard library only, Linux system calls through
ctypes. The zygote's fresh child calls, in order:

1. :func:`enter_namespaces` (local sandbox only): new user, PID, mount, IPC and network namespaces. From there the
   zygote, bwrap's init and every earlier submission are not addressable (kill, prlimit, setpriority,
   sched_setaffinity, ptrace all name processes by PID in the caller's namespace), System V and POSIX IPC, abstract
   unix sockets and the user keyring start empty, and the sandbox's own processes are hidden from /proc. (A fresh
   procfs cannot be mounted there: bubblewrap covers parts of its /proc, and a covered procfs may not be mounted
   again in a user namespace. So /proc keeps the sandbox's PID numbering: /proc/self is right, /proc/<os.getpid()>
   is not.)
2. :func:`drop_privileges`: no capabilities (a new user namespace grants all of them inside it), none to regain
   (no_new_privs), and the system-call filter built on the trusted side (autograder/syscall_filter.py).

In a container the first step is skipped: every submission has a container of its own, and Docker's default
seccomp profile refuses new namespaces to an unprivileged process anyway.
"""

from __future__ import annotations

import ctypes
import os
import resource

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = (0x00020000, 0x08000000, 0x10000000,
                                                                        0x20000000, 0x40000000)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 1 << 14, 1 << 18
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
PR_CAPBSET_READ, PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 23, 24, 47, 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)


class ConfinementError(OSError):
    """A step of the confinement failed: the submission must not run (the trusted side retries elsewhere)."""


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise ConfinementError(err, f"{what}: {os.strerror(err)}")


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def sandbox_processes(zygote: int) -> list[int]:
    """PIDs (in the sandbox's numbering) to hide from a submission: bwrap's init, the zygote and its threads, and
    the calling process (the zygote's child, which stays outside the submission's PID namespace)."""
    found = {1, zygote, os.getpid()}
    try:
        found |= {int(tid) for tid in os.listdir(f"/proc/{zygote}/task")}
    except OSError:
        pass
    return sorted(found)


def enter_namespaces(hide: list[int]) -> None:
    """Move the calling process into new namespaces; its next child is PID 1 of the new PID namespace."""
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWNET), "unshare")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1")
    _write("/proc/self/gid_map", f"{gid} {gid} 1")
    _check(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make the mounts private")
    flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
    for pid in hide:
        target = f"/proc/{pid}".encode()
        if os.path.isdir(target):  # an empty, read-only, unreadable folder over the process's /proc entry
            _check(_libc.mount(b"hidden", target, b"tmpfs", flags, b"size=4k,mode=000"), f"hide process {pid}")


def _last_capability() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return 63


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def drop_capabilities() -> None:
    for cap in range(_last_capability() + 1):
        if _libc.prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1:
            _check(_libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "drop a bounding capability")
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)  # EINVAL on kernels without ambient sets
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(_CapHeader(LINUX_CAPABILITY_VERSION_3, 0)), data), "drop capabilities")


def load_filter(bpf: bytes) -> None:
    """Install the trusted side's BPF program (``struct sock_filter`` array) for this process and its children."""
    if not bpf or len(bpf) % 8:
        raise ConfinementError(0, "the system-call filter is malformed")
    program = ctypes.create_string_buffer(bpf, len(bpf))
    fprog = _SockFprog(len(bpf) // 8, ctypes.cast(program, ctypes.c_void_p))
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "load the filter")


def drop_privileges(bpf: bytes) -> None:
    drop_capabilities()
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "set no_new_privs")
    load_filter(bpf)


# --- the zygote's own state, re-asserted before every fork ----------------------------------------

RLIMITS = [name for name in dir(resource) if name.startswith("RLIMIT_")]


def snapshot() -> dict:
    """What a submission could have changed in the zygote if it could reach it."""
    return {"rlimits": {name: resource.getrlimit(getattr(resource, name)) for name in RLIMITS},
            "nice": os.getpriority(os.PRIO_PROCESS, 0), "affinity": os.sched_getaffinity(0),
            "environ": dict(os.environ), "cwd": os.getcwd(), "umask": _umask()}


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def reassert(saved: dict) -> str | None:
    """Restore the zygote's state; a reason when it cannot be restored (a lowered hard limit, a raised nice)."""
    for name, limits in saved["rlimits"].items():
        if resource.getrlimit(getattr(resource, name)) != limits:
            try:
                resource.setrlimit(getattr(resource, name), limits)
            except (ValueError, OSError):
                return f"its {name} limit was changed and cannot be restored"
    if os.getpriority(os.PRIO_PROCESS, 0) != saved["nice"]:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, saved["nice"])
        except OSError:
            return "its scheduling priority was lowered"
    try:
        os.sched_setaffinity(0, saved["affinity"])
    except OSError:
        return "its CPU affinity was changed and cannot be restored"
    os.environ.clear()
    os.environ.update(saved["environ"])
    os.chdir(saved["cwd"])
    os.umask(saved["umask"])
    return None
