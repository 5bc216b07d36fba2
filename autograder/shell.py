"""Running a notebook's cells as Jupyter's kernel runs them: with IPython's own InteractiveShell.

So cell magics (``%%time``, ``%%capture``, ``%%writefile``), line magics, ``!`` shell escapes, IPython's input
transformations and continuation lines behave exactly as in the notebook the student ran, instead of being
guessed at with line patterns. Shell escapes and magics run where the cells run (inside the sandbox, with its
limits and no network): ``!pip install`` or ``%load`` of a URL fail there as they would offline.

Copied into the sandbox beside runner.py (package ``agrunner``) and also used by the in-process backend for
trusted notebooks; it imports only IPython (a pinned dependency) and the standard library.
"""

from __future__ import annotations

import atexit
from typing import Any


class NotebookShell:
    """One notebook's kernel: a namespace and the shell that runs cells in it, one after another."""

    def __init__(self) -> None:
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config

        config = Config()
        config.HistoryManager.enabled = False  # no history database on disk
        config.InteractiveShell.colors = "nocolor"
        config.InteractiveShell.xmode = "Plain"  # tracebacks in the output as plain text
        self.shell = InteractiveShell.instance(config=config)
        # IPython's exit hook clears the namespace and tidies history files; the runner ends its processes itself,
        # and a cell that runs the exit hooks (atexit._run_exitfuncs()) must not empty its own notebook
        atexit.unregister(self.shell.atexit_operations)
        self._filename = "<cell>"
        # each cell's code carries the cell's label as its file name, so an error's place names the cell
        self.shell.compile.get_code_name = lambda raw, transformed, number: self._filename

    @property
    def namespace(self) -> dict[str, Any]:
        return self.shell.user_ns

    @staticmethod
    def filename(label: str) -> str:
        return f"<{label}>"

    def run(self, label: str, source: str) -> BaseException | None:
        """Run one cell; the exception it ended with (its traceback is already in the output, as in Jupyter)."""
        self._filename = self.filename(label)
        result = self.shell.run_cell(source, store_history=True)
        return result.error_before_exec or result.error_in_exec
