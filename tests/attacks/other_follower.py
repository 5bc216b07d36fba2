"""attacks.md #25 and #31 - look for what earlier submissions in the same sandbox left behind: files anywhere
writable (the scratch space, /tmp and /dev/shm, and every other writable folder), SysV IPC objects, POSIX message
queues, keys in the kernel keyrings, abstract unix sockets and processes. Prints one line `FOLLOWER {json}`:
`hits` for the places the runner wipes, IPC and
processes; `elsewhere` for the other writable folders.

PARAMS (prepended by the test): needles, the markers to look for (in names, contents and command lines).
"""

# uses _kernel.py

import ctypes
import json
import os
import stat

PARAMS = globals().get("PARAMS", {})
NEEDLES = PARAMS.get("needles", ["AGCANARY"])
WIPED = ("/tmp", "/work/scratch", "/dev/shm")
seen = {"cwd": os.getcwd(), "files": [], "hits": [], "elsewhere": [], "writable_dirs": []}


def _found(path):
    seen["hits" if path.startswith(WIPED) else "elsewhere"].append(path)


def _writable(path):
    try:
        return not os.statvfs(path).f_flag & os.ST_RDONLY
    except OSError:
        return False


for root, dirs, files in os.walk("/"):
    dirs[:] = [name for name in dirs if os.path.join(root, name) not in ("/proc", "/sys")]
    if not _writable(root):  # read-only: what the sandbox was given, not traces (its subfolders are walked)
        continue
    seen["writable_dirs"].append(root)
    for name in dirs + files:
        path = os.path.join(root, name)
        if path.startswith(WIPED):
            seen["files"].append(path)
        if any(n in name for n in NEEDLES):
            _found(path)
    for name in files:
        path = os.path.join(root, name)
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            with open(path, "rb") as handle:
                data = handle.read(2_000_000)
        except OSError:
            continue
        if any(n.encode() in data for n in NEEDLES):
            _found(path)
for table in ("/proc/sysvipc/shm", "/proc/sysvipc/msg", "/proc/sysvipc/sem", "/proc/net/unix"):
    try:
        with open(table) as handle:
            lines = handle.read().splitlines()[1:]
    except OSError:
        continue
    seen[table] = len(lines)
    seen["hits"] += [line for line in lines if any(n in line for n in NEEDLES)]
    if table != "/proc/net/unix" and lines:
        seen["hits"].append(f"{table} is not empty")
libc = ctypes.CDLL(None, use_errno=True)
for needle in NEEDLES:
    if libc.mq_open(f"/{needle}".encode(), os.O_RDONLY, 0, None) >= 0:
        seen["hits"].append(f"message queue /{needle}")
    for keyring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_SESSION_KEYRING):  # noqa: F821 - from _kernel.py
        if isinstance(search_key(needle, keyring), int):  # noqa: F821
            seen["hits"].append(f"key {needle} in keyring {keyring}")
seen["processes"] = {}
for pid in (p for p in os.listdir("/proc") if p.isdigit()):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
        with open(f"/proc/{pid}/comm") as handle:
            seen["processes"][pid] = handle.read().strip()
    except OSError:
        continue
    if any(n in cmdline for n in NEEDLES):
        seen["hits"].append(f"process {pid}: {cmdline}")
print("FOLLOWER " + json.dumps(seen))
