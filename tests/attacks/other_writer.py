"""attacks.md #25 and #31 - a submission that leaves traces for others: files in every writable place, a SysV shared
memory segment, a POSIX message queue, a key in its user's kernel keyring, an abstract unix socket and a sleeping
process, all carrying a marker; then it waits a while.

PARAMS (prepended by the test): marker, a string that also appears in this notebook's source; seconds to wait.
"""

# uses _kernel.py

import ctypes
import os
import socket
import subprocess
import sys
import time

PARAMS = globals().get("PARAMS", {})
MARKER = PARAMS.get("marker", "AGCANARY-writer")
print(f"WRITER started {time.time()}", flush=True)
for place in (os.getcwd(), "/tmp", "/work/scratch", "/dev/shm", "/", "/work", "/opt", "/etc", "/dev"):
    try:
        with open(os.path.join(place, f"{MARKER}.txt"), "w") as handle:
            handle.write(MARKER)
    except OSError:
        pass
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
segment = libc.shmget(0x5EC2E7, 4096, 0o1666)  # IPC_CREAT | 0666
if segment >= 0:
    ctypes.memmove(libc.shmat(segment, None, 0), MARKER.encode(), len(MARKER))
queue = libc.mq_open(f"/{MARKER}".encode(), os.O_CREAT | os.O_RDWR, 0o666, None)
keyring = add_key(MARKER, MARKER)  # noqa: F821 - from _kernel.py
print(f"WRITER keyring {keyring} queue {'made' if queue >= 0 else 'refused'}", flush=True)
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind("\0" + MARKER)
listener.listen()
sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", MARKER], start_new_session=True)
print("WRITER left its traces; shm segment", segment, flush=True)
time.sleep(PARAMS.get("seconds", 0))
print(f"WRITER finished {time.time()}", flush=True)
