"""In-process backend: execute the notebook's code in the current process.

Only for trusted notebooks (reference, blank, known-wrong) in `validate`, where speed matters and nothing is
hostile. Student submissions are graded by a sandboxed backend; both give tests the same interface.
"""

from __future__ import annotations

import builtins
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..harness.calls import CallReport, read_report
from ..harness.feedback import MissingName, SubmissionError
from ..notebooks import CodeCell
from ..runner import resolve_qualname, watched_call
from ..shell import NotebookShell

_PLAIN = (type(None), bool, int, float, complex, str, bytes, list, tuple, dict, np.ndarray, np.generic)


@dataclass(frozen=True)
class CellError:
    """A cell that raised while the notebook ran: which one and what, in the student's terms."""

    cell: str
    error_type: str
    message: str


def _is_plain(value: Any) -> bool:
    if isinstance(value, _PLAIN):
        return True
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


class Handle:
    """A submission-side object (an instance of a student's class, an RNG); calls on it are guarded."""

    def __init__(self, obj: Any, label: str):
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_label", label)

    def __getattr__(self, name: str) -> Any:
        try:
            value = getattr(self._obj, name)
        except Exception as exc:
            raise SubmissionError(f"{self._label}.{name}", type(exc).__name__, str(exc),
                                  builtin_type=builtin_base(exc)) from None
        return guard(value, f"{self._label}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return guard(self._obj, self._label)(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<submission object {self._label}>"


def _unwrap(value: Any) -> Any:
    if isinstance(value, Handle):
        return value._obj
    if isinstance(value, list | tuple):
        return type(value)(_unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def builtin_base(exc: BaseException) -> str:
    """The nearest built-in exception class of ``exc``'s, by name (as the sandbox's runner reports it)."""
    for kind in type(exc).__mro__:
        if getattr(builtins, kind.__name__, None) is kind:
            return kind.__name__
    return ""


def guard(value: Any, label: str) -> Any:
    """Wrap a callable so the student's exceptions become :class:`SubmissionError` naming ``label``."""
    if _is_plain(value):
        return value
    if not callable(value):
        return Handle(value, label)

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            result = value(*_unwrap(args), **_unwrap(kwargs))
        except Exception as exc:
            raise SubmissionError(label, type(exc).__name__, str(exc), builtin_type=builtin_base(exc)) from None
        return result if _is_plain(result) else Handle(result, f"{label}(...)")

    return call


def execute_cells(cells: list[CodeCell], shell: NotebookShell) -> list[CellError]:
    """Run cells in order in one IPython shell, as the sandbox's runner does; a failing cell is recorded and the
    next one still runs."""
    errors = []
    for cell in cells:
        exc = shell.run(cell.label, cell.source)
        if exc is not None:
            errors.append(CellError(cell.label, type(exc).__name__, str(exc)[:300]))
    return errors


class InProcessSubmission:
    """The ``submission`` fixture over a namespace built in this process."""

    def __init__(self, namespace: dict[str, Any], cell_errors: list[CellError], probes: str | None = None):
        self._namespace = namespace
        self.cell_errors = cell_errors
        self._probes: dict[str, Any] = {}
        if probes:
            scope: dict[str, Any] = {"__name__": "probes", "submission": namespace}
            exec(compile(probes, "<probes>", "exec"), scope)  # noqa: S102 - instructor code
            self._probes = {k: v for k, v in scope.items() if callable(v) and not k.startswith("_")}

    @classmethod
    def run(cls, cells: list[CodeCell], workdir: Path, probes: str | None = None) -> InProcessSubmission:
        os.environ.setdefault("MPLBACKEND", "Agg")
        previous = Path.cwd()
        os.chdir(workdir)
        try:
            shell = NotebookShell()
            errors = execute_cells(cells, shell)
        finally:
            os.chdir(previous)
        return cls(shell.namespace, errors, probes)

    @property
    def recorded_cell_errors(self) -> list[dict[str, str]]:
        return [vars(e) for e in self.cell_errors]

    def has(self, name: str) -> bool:
        return name in self._namespace

    def reference(self, name: str) -> Any:
        """The value of one of the notebook's names, as the remote backend gives it: plain data or a handle."""
        if name not in self._namespace:
            raise MissingName(name)
        value = self._namespace[name]
        return value if _is_plain(value) else Handle(value, name)

    def assign(self, name: str, value: Any) -> None:
        self._namespace[name] = _unwrap(value)

    def delete(self, name: str) -> None:
        if name not in self._namespace:
            raise SubmissionError(name, "NameError", f"name '{name}' is not defined", builtin_type="NameError")
        del self._namespace[name]

    def probe(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if name not in self._probes:
            raise NameError(f"no probe named {name!r}")
        return guard(self._probes[name], f"the probe {name}")(*args, **kwargs)

    def watch(self, name: str | Handle, forbid: tuple[str, ...] | list[str] = (),
              check_args: bool = True) -> Callable[..., CallReport]:
        """As the sandboxed backend's ``watch``: the same comparison and the same forbidden-call watch, here."""
        if isinstance(name, str):
            if name not in self._namespace:
                raise MissingName(name)
            function, label = self._namespace[name], name
        else:
            function, label = name._obj, name._label
        names = tuple(forbid)

        def call(*args: Any, **kwargs: Any) -> CallReport:
            try:
                value, report = watched_call(function, list(_unwrap(args)), _unwrap(kwargs), check_args,
                                             list(names), self._namespace)
            except Exception as exc:
                raise SubmissionError(label, type(exc).__name__, str(exc)) from None
            raw = {"value": value, **report}
            return read_report(label, raw, len(args), list(kwargs), names,
                               wrap=lambda v: v if _is_plain(v) else Handle(v, f"{label}(...)"))

        return call

    def make_object(self, qualname: str, *args: Any, **kwargs: Any) -> Any:
        return Handle(resolve_qualname(qualname)(*_unwrap(args), **_unwrap(kwargs)), qualname)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name not in self._namespace:
            raise MissingName(name)
        return guard(self._namespace[name], name)

