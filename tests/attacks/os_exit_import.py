"""attacks.md #9 - os._exit(0) at import: the notebook stops with exit status 0."""

import os

os._exit(0)
