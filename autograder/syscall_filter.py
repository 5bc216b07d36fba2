"""The system-call filter every submission process runs under, in either backend (attacks.md rows 30-32).

Built here, on the trusted side, with libseccomp (through `pyseccomp`, a ctypes binding with the same API as
libseccomp's own Python module, pinned) and exported as a classic-BPF program; the runner only loads those bytes
with prctl(PR_SET_SECCOMP) in each submission process before any student code runs. Nothing is hand-assembled.

The policy is Docker's default profile in spirit: everything is allowed except what a submission could use to
reach beyond itself - tracing or reading other processes, kernel keyrings, new namespaces (a fresh user namespace
would give it capabilities again), mounts, kernel modules, BPF and perf, and the calls that change the machine.
A refused call fails with EPERM (ENOSYS for clone3, whose flags a filter cannot read, so the C library falls back
to clone, whose flags it can).
"""

from __future__ import annotations

import errno
import functools
import tempfile

# (system call, why a submission may not make it)
REFUSED: tuple[tuple[str, str], ...] = (
    ("ptrace", "trace or change another process (the runner that forks submissions)"),
    ("process_vm_readv", "read another process's memory"),
    ("process_vm_writev", "write another process's memory"),
    ("pidfd_getfd", "take a file descriptor from another process"),
    ("kcmp", "compare kernel objects of other processes"),
    ("keyctl", "kernel keyrings outlive a process and are shared by its user"),
    ("add_key", "kernel keyrings outlive a process and are shared by its user"),
    ("request_key", "kernel keyrings outlive a process and are shared by its user"),
    ("perf_event_open", "performance counters observe other processes and the kernel"),
    ("bpf", "kernel BPF programs"),
    ("userfaultfd", "a classic tool for kernel exploits"),
    ("unshare", "new namespaces (a new user namespace gives back every capability)"),
    ("setns", "joining other namespaces"),
    ("mount", "mounts"),
    ("umount2", "mounts"),
    ("pivot_root", "mounts"),
    ("fsopen", "mounts (new mount API)"),
    ("fsmount", "mounts (new mount API)"),
    ("fsconfig", "mounts (new mount API)"),
    ("fspick", "mounts (new mount API)"),
    ("move_mount", "mounts (new mount API)"),
    ("open_tree", "mounts (new mount API)"),
    ("mount_setattr", "mounts (new mount API)"),
    ("open_by_handle_at", "opening files by handle escapes bind mounts"),
    ("name_to_handle_at", "file handles"),
    ("init_module", "kernel modules"),
    ("finit_module", "kernel modules"),
    ("delete_module", "kernel modules"),
    ("kexec_load", "replacing the kernel"),
    ("kexec_file_load", "replacing the kernel"),
    ("reboot", "rebooting"),
    ("swapon", "swap"),
    ("swapoff", "swap"),
    ("acct", "process accounting"),
    ("syslog", "the kernel log"),
    ("quotactl", "disk quotas"),
    ("settimeofday", "the clock"),
    ("clock_settime", "the clock"),
    ("clock_adjtime", "the clock"),
    ("adjtimex", "the clock"),
    ("iopl", "I/O ports"),
    ("ioperm", "I/O ports"),
    ("io_uring_setup", "io_uring bypasses this filter"),
    ("io_uring_enter", "io_uring bypasses this filter"),
    ("io_uring_register", "io_uring bypasses this filter"),
    ("vhangup", "terminals"),
    ("lookup_dcookie", "kernel profiling"),
)
# clone's flags that create namespaces: refused like unshare (threads and fork use clone without them)
CLONE_NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000,
                         0x00000080)  # NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME
PERSONALITY_QUERY = 0xFFFFFFFF


def _bpf(build) -> bytes:
    with tempfile.TemporaryFile() as out:
        build().export_bpf(out)
        out.seek(0)
        return out.read()


def _filter():
    import pyseccomp as seccomp  # imported here: only the grader needs libseccomp, never the sandbox

    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    for name, _why in REFUSED:
        try:
            rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
        except (OSError, ValueError):  # a call this kernel or architecture does not have
            continue
    for flag in CLONE_NAMESPACE_FLAGS:
        rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    # personality() may only be queried: setting it can switch address-space randomisation off
    rules.add_rule(seccomp.ERRNO(errno.EPERM), "personality", seccomp.Arg(0, seccomp.NE, PERSONALITY_QUERY))
    try:
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    except (OSError, ValueError):
        pass
    return rules


@functools.cache
def submission_filter() -> bytes:
    """The BPF program (an array of ``struct sock_filter``) for this machine's architecture."""
    return _bpf(_filter)
