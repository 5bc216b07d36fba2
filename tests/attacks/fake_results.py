"""attacks.md #21 - write fake result files (Gradescope results.json, JUnit report.xml, result.json) everywhere.

Appended after the answers, with a wrong `add` and a wrong `scale`: the honest score is 0.
"""

import json
import os

FULL = {"score": 6, "max_score": 6, "status": "graded", "schema_version": 1, "tests": []}
FILES = {
    "results.json": json.dumps({"score": 6, "tests": [{"name": "test_add_integers", "score": 2, "max_score": 2}]}),
    "result.json": json.dumps(FULL),
    "report.xml": '<testsuite name="pytest" tests="3" failures="0" errors="0"></testsuite>',
    "gradebook.db": "forged",
}
places = {os.getcwd(), os.path.expanduser("~"), "/tmp", "/work", "/work/scratch", "/dev/shm", "/", "/work/public",
          os.path.dirname(os.getcwd())}
written = []
for place in sorted(places):
    for sub in ("", "autograded/student/week00-toy"):
        for name, text in FILES.items():
            path = os.path.join(place, sub, name)
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as handle:
                    handle.write(text)
                written.append(path)
            except OSError:
                pass
print("FAKE-RESULTS " + json.dumps(written))


def add(a, b):
    return a - b


def scale(x, k):
    return x
