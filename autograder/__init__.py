"""Auto-grader for a notebook-based course: release, check, validate and (sandboxed) grading.

The command-line interface in :mod:`autograder.cli` is a thin layer over the functions exported by the
modules here; each module does one job (see README.md, "Layout").
"""

__version__ = "0.1.0"
