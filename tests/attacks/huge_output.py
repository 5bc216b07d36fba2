"""attacks.md #26 - huge output: 50 MB on stdout and 10 MB on stderr at import."""

import sys

LINE = "x" * 1023 + "\n"
for _ in range(50 * 1024):
    sys.stdout.write(LINE)
for _ in range(10 * 1024):
    sys.stderr.write(LINE)
