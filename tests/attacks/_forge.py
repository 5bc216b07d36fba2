"""Shared by the attacks that forge results (prepended to each that says `# uses _forge.py`): full marks
written wherever a grader might read them."""

import json
import os

FORGED = json.dumps({"score": 6, "max_score": 6, "status": "graded", "tests": []})


def _forge_results():
    for place in (os.getcwd(), "/tmp", "/work/scratch", "/dev/shm", "/work"):
        for name in ("results.json", "result.json", "report.xml"):
            try:
                with open(os.path.join(place, name), "w") as handle:
                    handle.write(FORGED)
            except OSError:
                pass
