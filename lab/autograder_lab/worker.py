"""``python -m autograder_lab.worker NOTEBOOK``: one check, its report as one JSON object on stdout.

A separate process so that the server never blocks or shares state with the kernel machinery; an unusable
notebook gives ``{"problem": "<one sentence>"}`` as the command line would print it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    from autograder.check import check_notebook
    from autograder.errors import UserError

    try:
        report = check_notebook(Path(argv[0]))
    except UserError as exc:
        print(json.dumps({"problem": str(exc)}))
        return 0
    print(json.dumps(report.to_dict()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
