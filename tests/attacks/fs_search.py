"""attacks.md #19 and #25 - search everything visible for the hidden checks, the solutions and other submissions.

Walks / (but /proc, /sys and /dev, which are read separately) and reads every regular file up to 2 MB, in two
processes. A third process meanwhile re-reads, every half second for PARAMS["watch"] seconds, every readable
/proc/<pid>/cmdline, environ and comm, its own argv and environment, and the writable places (/tmp, scratch,
/dev/shm), where another submission running at the same time would show. Prints one line `FS-SEARCH {json}`
with what it looked at and found.

PARAMS (prepended by the test): needles, the strings to look for; watch, seconds to keep watching.
"""

import json
import os
import sys
import time

PARAMS = globals().get("PARAMS", {})
NEEDLES = [n.encode() for n in PARAMS.get("needles", [])]
MAX_SIZE = 2_000_000
WRITABLE = ("/tmp", "/work/scratch", "/dev/shm")


def _read_only(path):
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return True


def _paths(top, skip=(), writable_only=False):
    found = []
    for root, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if os.path.join(root, d) not in skip
                   and not (writable_only and _read_only(os.path.join(root, d)))]
        found += [os.path.join(root, name) for name in files]
    return found


def _scan(paths):
    read, hits = 0, []
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            info = os.fstat(fd)
            if (info.st_mode & 0o170000) != 0o100000 or info.st_size > MAX_SIZE:
                continue
            data = os.read(fd, MAX_SIZE + 1)
        except OSError:
            continue
        finally:
            os.close(fd)
        read += 1
        hits += [[path, n.decode()] for n in NEEDLES if n in data]
    return read, hits


def _proc():
    texts = []
    for pid in sorted(p for p in os.listdir("/proc") if p.isdigit()):
        for name in ("cmdline", "environ", "comm"):
            try:
                with open(f"/proc/{pid}/{name}", "rb") as handle:
                    texts.append((f"/proc/{pid}/{name}", handle.read()))
            except OSError:
                pass
    texts.append(("argv", "\0".join(sys.argv).encode()))
    texts.append(("environment", repr(dict(os.environ)).encode()))
    return len(texts), [[where, n.decode()] for where, data in texts for n in NEEDLES if n in data]


def _in_child(work):
    """Run ``work()`` in a forked process; returns a function that waits for its (JSON) result."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        data = json.dumps(work()).encode()
        while data:
            data = data[os.write(writer, data):]
        os._exit(0)
    os.close(writer)

    def result():
        chunks = []
        while chunk := os.read(reader, 1 << 16):
            chunks.append(chunk)
        os.waitpid(pid, 0)
        return json.loads(b"".join(chunks))

    return result


def _watch():
    seen = {"scans": [], "proc_texts": 0, "writable_read": 0, "proc_hits": [], "writable_hits": []}
    end = time.time() + PARAMS.get("watch", 0)
    while True:
        count, hits = _proc()
        read, writable_hits = _scan([p for top in WRITABLE for p in _paths(top, writable_only=True)])
        seen["scans"].append(time.time())
        seen["proc_texts"] = max(seen["proc_texts"], count)
        seen["writable_read"] = max(seen["writable_read"], read)
        seen["proc_hits"] += hits
        seen["writable_hits"] += writable_hits
        if time.time() >= end:
            return seen
        time.sleep(0.5)


report = {"needles": len(NEEDLES), "started": time.time()}
watching = _in_child(_watch)
paths = sorted(_paths("/", skip={"/proc", "/sys", "/dev"}))
report["files_seen"] = len(paths)
half = _in_child(lambda: _scan(paths[1::2]))
read, hits = _scan(paths[0::2])
other_read, other_hits = half()
report["files_read"], report["file_hits"] = read + other_read, hits + other_hits
report.update(watching())
report["finished"] = time.time()
print("FS-SEARCH " + json.dumps(report))
