"""`autograder` and `python -m autograder`: the command line, with a Ctrl-C during start-up (while typer, rich
and pydantic are imported) ending quietly like one at any later point."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from .cli import main as cli_main
    except KeyboardInterrupt:
        sys.exit(130)
    cli_main()


if __name__ == "__main__":
    main()
