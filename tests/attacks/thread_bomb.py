"""attacks.md #1 - thread bomb at import: start sleeping threads until the process limit refuses one."""

import threading
import time

started = 0
try:
    while started < 100_000:
        threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
        started += 1
except RuntimeError as exc:
    print(f"THREAD-BOMB stopped after {started} threads: {exc}")
