"""The ``submission`` fixture over a sandboxed runner: every call crosses the boundary as plain data.

A :class:`Session` owns one submission's life in a :class:`~autograder.sandboxes.Sandbox`: it starts the child,
runs the notebook's cells, forwards calls with a per-call and a per-submission deadline, and turns every way a
submission can stop (time, memory, exit, malformed replies) into a plain-words reason. After a crash the next
call starts the submission afresh (its cells run again) a limited number of times, so one runaway function
costs only the checks that call it.
"""

from __future__ import annotations

import signal
import time
from typing import Any

from ..harness.calls import CallReport, read_report
from ..harness.feedback import MissingName, SubmissionError, cell_name
from ..i18n import _
from ..notebooks import CodeCell
from ..protocol import (
    OVER_LIMIT,
    Handle,
    LimitError,
    ProtocolError,
    Unencodable,
    limit_reasons,
    read_message,
    write_message,
)
from ..sandboxes import Sandbox
from ..sandboxes.common import Child, Limits, SandboxError

MAX_RESTARTS = 2
MAX_STRAY_REPLIES = 100


class ReplyRefused(SubmissionError):
    """A value the submission returned is over the message limits (protocol.DecodeLimits): that call fails with
    the limit in plain words; the submission's process lives on."""

    def __init__(self, name: str, reason: str):
        Exception.__init__(self, _("`{name}` returned {reason}", name=name, reason=reason))
        self.name, self.error_type, self.message, self.where = name, "ReplyRefused", reason, ""


class LimitExceeded(SubmissionError):
    """A limit ended the submission's process during a call; the message says which, in plain words."""

    def __init__(self, message: str):
        Exception.__init__(self, message)
        self.name, self.error_type, self.message = "", "LimitExceeded", message


def _seconds(value: float) -> str:
    return _("{n} min", n=f"{value / 60:g}") if value >= 60 and value % 60 == 0 else _("{n} s", n=f"{value:g}")


def _out_of_time(total: float) -> str:
    return _("the submission ran out of time (limit {limit} in all)", limit=_seconds(total))


class Session:
    """One submission in a warm sandbox."""

    def __init__(self, sandbox: Sandbox, cells: list[CodeCell], probes: str | None = None):
        self.sandbox, self.cells, self.probes = sandbox, cells, probes
        self._cell_lines = {cell.label: cell.source.count("\n") + 1 for cell in cells}
        self.limits: Limits = sandbox.limits
        self.deadline = time.monotonic() + self.limits.total_time
        self.child: Child | None = None
        self.generation = 0
        self.restarts = 0
        self.cell_errors: list[dict[str, str]] = []
        self.limit_events: list[str] = []
        self.outputs: list[str] = []
        self.staff_outputs: list[str] = []
        self.fatal: str | None = None
        self.infrastructure_error: str | None = None
        self.current_test = ""
        self._next_id = 0
        # `submission.f` for each top-level name that is a handle, kept until the runner reports it rebound (or
        # the submission restarts): a call then costs one request, not a look-up and a call
        self.names: dict[str, RemoteObject] = {}

    # --- lifecycle -------------------------------------------------------------------------------
    def _start(self) -> None:
        if self.fatal:
            raise LimitExceeded(self.fatal)
        if time.monotonic() >= self.deadline:
            self.fatal = _out_of_time(self.limits.total_time)
            raise LimitExceeded(self.fatal)
        self.child = self._spawn()
        self.generation += 1
        self.names.clear()
        try:
            reply = self._request({"op": "exec", "cells": [vars(c) for c in self.cells]}, _("running your notebook"),
                                  timeout=self.deadline - time.monotonic())
        except LimitExceeded as exc:
            self.fatal = _("your notebook did not finish running: {reason}", reason=exc)
            raise LimitExceeded(self.fatal) from None
        errors = reply.get("cell_errors", []) if isinstance(reply, dict) else []
        if self.generation == 1:
            self.cell_errors = [self._cell_error(e) for e in errors
                                if isinstance(e, dict) and e.get("cell") in self._cell_lines]
            self.child.output.seal()  # from here on, hidden inputs reach the submission: what it prints is staff-only
        else:
            self.child.output.seal(keep=False)  # a rerun of the cells: its output says nothing new
        if self.probes:
            self._request({"op": "probes", "source": self.probes}, _("loading the probes"))

    def _spawn(self) -> Child:
        """A confined submission process. A failure before it said hello is the grader's, never the student's:
        the sandbox is replaced and the spawn tried once more; a second failure makes the whole result an
        infrastructure error, which the next `grade` run picks up again."""
        try:
            return self.sandbox.spawn()
        except SandboxError as first:
            try:
                self.sandbox.restart()
                return self.sandbox.spawn()
            except SandboxError as exc:
                self.infrastructure_error = self.fatal = f"the grader's sandbox failed ({first}; then {exc})"
                raise LimitExceeded(self.fatal) from None

    def _cell_error(self, error: dict) -> dict[str, Any]:
        """An error of the notebook's own run (no hidden input had reached it): message shown, capped."""
        line = error.get("line")
        line = line if type(line) is int and 1 <= line <= self._cell_lines[error["cell"]] else 0
        return {"cell": error["cell"], "error_type": str(error.get("error_type", ""))[:100],
                "message": str(error.get("message", ""))[:500], "line": line}

    def ensure_started(self) -> None:
        if self.child is not None:
            return
        if self.generation > 0:
            if self.restarts >= MAX_RESTARTS:
                self.fatal = self.fatal or _("the submission stopped too many times; the remaining checks were not run")
                raise LimitExceeded(self.fatal)
            self.restarts += 1
        self._start()

    def finish(self) -> tuple[str, str]:
        """End the submission for good; returns what it printed (capped): while its notebook ran (students may
        see it), and while the hidden checks called it (for the course staff only)."""
        if self.child is not None:
            self._end_child()
        return "\n".join(o for o in self.outputs if o), "\n".join(o for o in self.staff_outputs if o)

    def _end_child(self, ended: bool = False) -> tuple[int | None, bool]:
        child, self.child = self.child, None
        try:
            info = self.sandbox.reap(child, ended)
        except SandboxError:
            self.sandbox.restart()
            info = None
        self.outputs.append(child.output.text())
        self.staff_outputs.append(child.output.staff_text())
        return (info.status, info.oom_killed) if info else (None, False)

    # --- requests --------------------------------------------------------------------------------
    def _fail(self, what: str, reason: str) -> LimitExceeded:
        status, oom = self._end_child(ended=reason == "exited")
        what = self._while(what)
        if oom:
            reason = _("ran out of memory (limit {limit}) while {what}", limit=self.sandbox.describe_memory(),
                       what=what)
        elif reason == "exited":
            if status is not None and status & 0x7F:
                name = signal.Signals(status & 0x7F).name if status & 0x7F in signal.valid_signals() else _("a signal")
                reason = _("the submission's process was killed by {signal} while {what}", signal=name, what=what)
            else:
                code = (status >> 8) if status is not None else _("unknown")
                reason = _("the submission's process exited (status {code}) while {what}", code=code, what=what)
        else:
            reason = _("{reason} while {what}", reason=reason, what=what)
        self.limit_events.append(reason)
        return LimitExceeded(reason)

    def _request(self, message: dict[str, Any], what: str, timeout: float | None = None, label: str = "") -> Any:
        self._next_id += 1
        request_id = self._next_id
        start = time.monotonic()
        remaining = self.deadline - start
        limit = min(self.limits.call_time, remaining) if timeout is None else min(timeout, remaining)
        if limit <= 0:
            self.fatal = _out_of_time(self.limits.total_time)
            raise self._fail(what, _("ran out of time")) if self.child else LimitExceeded(self.fatal)
        channel = self.child.channel
        try:
            channel.settimeout(limit)
            write_message(channel, {"id": request_id, **message})
            for _attempt in range(MAX_STRAY_REPLIES):
                reply = read_message(channel, self.limits.message, deadline=start + limit)
                if reply.get("id") == request_id:
                    break
            else:
                raise ProtocolError("too many unexpected messages")
        except TimeoutError:
            took = self.limits.call_time if timeout is None else limit
            raise self._fail(what, _("took longer than {limit}", limit=_seconds(round(took, 1)))) from None
        except (EOFError, ConnectionError, BrokenPipeError):
            raise self._fail(what, "exited") from None
        except LimitError as exc:  # a whole, well-formed message, over a bound: this call ends, the process lives on
            raise self._refused(label or _("your code"), what, exc.reason) from None
        except ProtocolError as exc:
            raise self._fail(what, _("sent a reply the grader cannot accept ({error})", error=exc)) from None
        rebound = reply.get("rebound")
        for name in rebound if type(rebound) is list else ():
            if type(name) is str:
                self.names.pop(name, None)
        if "error" in reply:
            error = reply["error"] if isinstance(reply["error"], dict) else {}
            if error.get("type") == OVER_LIMIT and error.get("reason") in limit_reasons():
                raise self._refused(label or _("your code"), what, error["reason"])
            builtin = error.get("builtin")
            raise SubmissionError(label or _("your code"), str(error.get("type", "Error"))[:100],
                                  where=self._place(error.get("where")),
                                  builtin_type=builtin if type(builtin) is str else "")
        return reply.get("ok")

    def _refused(self, label: str, what: str, reason: str) -> ReplyRefused:
        refused = ReplyRefused(label, reason)
        self.limit_events.append(_("{reason} while {what}", reason=refused, what=self._while(what)))
        return refused

    def _while(self, what: str) -> str:
        """What the submission was doing, and in which check."""
        return _("{what} in {check}", what=what, check=self.current_test) if self.current_test else what

    def _place(self, where: Any) -> str:
        """``in cell X, line N`` when the runner names one of the cells it was sent and a line inside it; else
        nothing (the runner is the submission's: whatever it says is checked, never repeated)."""
        if type(where) is not list or len(where) != 2 or type(where[1]) is not int:
            return ""
        label, line = where
        lines = self._cell_lines.get(label) if type(label) is str else None
        return f"in {cell_name(label)}, line {line}" if lines and 1 <= line <= lines else ""

    def call(self, message: dict[str, Any], label: str, verb: str = "calling") -> Any:
        """Send a request about ``label`` (a name as the student wrote it); wrap handles in the reply."""
        self.ensure_started()
        doing = _("calling `{name}`", name=label) if verb == "calling" else f"{verb} `{label}`"
        return self._wrap(self._request(message, doing, label=label), label)

    def _wrap(self, value: Any, label: str) -> Any:
        if type(value) is Handle:
            return RemoteObject(self, value, self.generation, label)
        if type(value) is list:
            return [self._wrap(v, label) for v in value]
        if type(value) is tuple:
            return tuple(self._wrap(v, label) for v in value)
        if type(value) is dict:
            return {k: self._wrap(v, label) for k, v in value.items()}
        return value

    def unwrap(self, value: Any) -> Any:
        if isinstance(value, RemoteObject):
            if value._generation != self.generation:
                raise SubmissionError(value._label, "RuntimeError",
                                      "this object was lost when the submission was restarted")
            return value._handle
        if isinstance(value, list | tuple):
            return type(value)(self.unwrap(v) for v in value)
        if isinstance(value, dict):
            return {k: self.unwrap(v) for k, v in value.items()}
        return value


class RemoteObject:
    """An object that stays in the sandbox; attribute access and calls become requests."""

    __slots__ = ("_session", "_handle", "_generation", "_label")

    def __init__(self, session: Session, handle: Handle, generation: int, label: str):
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_generation", generation)
        object.__setattr__(self, "_label", label)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        label = f"{self._label}.{name}"
        self._session.ensure_started()  # before unwrap: an object of a process that has since stopped is lost
        return self._session.call({"op": "getattr", "target": self._session.unwrap(self), "attr": name},
                                  label, "reading")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        s = self._session
        s.ensure_started()  # before unwrap: an object of a process that has since stopped is lost
        try:
            message = {"op": "call", "target": s.unwrap(self), "args": s.unwrap(list(args)),
                       "kwargs": s.unwrap(kwargs)}
            return s.call(message, self._label)
        except Unencodable as exc:
            raise TypeError(f"a check passed a value that cannot cross the sandbox boundary: {exc}") from None

    def __repr__(self) -> str:
        return f"<submission object {self._label}>"


class WatchedCall:
    """``submission.watch(name, forbid=...)``: calls that return a :class:`~autograder.harness.calls.CallReport`
    (the runner compares every argument before and after the call and records forbidden calls)."""

    def __init__(self, session: Session, target: RemoteObject, label: str, forbid: tuple[str, ...],
                 check_args: bool):
        self._session, self._target, self._label = session, target, label
        self._forbid, self._check_args = forbid, check_args

    def __call__(self, *args: Any, **kwargs: Any) -> CallReport:
        s = self._session
        s.ensure_started()  # before unwrap: an object of a process that has since stopped is lost
        try:
            message = {"op": "call_watched", "target": s.unwrap(self._target), "args": s.unwrap(list(args)),
                       "kwargs": s.unwrap(kwargs), "check_args": self._check_args, "forbid": list(self._forbid)}
            s.ensure_started()
            raw = s._request(message, _("calling `{name}`", name=self._label), label=self._label)
        except Unencodable as exc:
            raise TypeError(f"a check passed a value that cannot cross the sandbox boundary: {exc}") from None
        return read_report(self._label, raw, len(args), list(kwargs), self._forbid,
                           wrap=lambda value: s._wrap(value, self._label))


class RemoteSubmission:
    """What hidden checks see as ``submission``."""

    def __init__(self, session: Session):
        self._session = session

    @property
    def cell_errors(self) -> list[dict[str, str]]:
        self._session.ensure_started()
        return self._session.cell_errors

    @property
    def recorded_cell_errors(self) -> list[dict[str, str]]:
        return self._session.cell_errors

    def set_current_test(self, name: str) -> None:
        self._session.current_test = name

    def has(self, name: str) -> bool:
        return bool(self._session.call({"op": "has", "name": name}, name, "looking up"))

    def reference(self, name: str) -> Any:
        """The value of one of the notebook's names: plain data, or an object that stays in the sandbox."""
        return self._session.call({"op": "get", "name": name}, name, "looking up")

    def assign(self, name: str, value: Any) -> None:
        """Rebind one of the notebook's names (plain data, or an object of the submission's)."""
        s = self._session
        try:
            s.call({"op": "assign", "name": name, "value": s.unwrap(value)}, name, "assigning")
        except Unencodable as exc:
            raise TypeError(f"a value that cannot cross the sandbox boundary: {exc}") from None

    def delete(self, name: str) -> None:
        self._session.call({"op": "delete", "name": name}, name, "deleting")

    def make_object(self, qualname: str, *args: Any, **kwargs: Any) -> Any:
        s = self._session
        return s.call({"op": "make", "qualname": qualname, "args": s.unwrap(list(args)), "kwargs": s.unwrap(kwargs)},
                      qualname, "creating")

    def watch(self, name: str | RemoteObject, forbid: tuple[str, ...] | list[str] = (),
              check_args: bool = True) -> WatchedCall:
        """``name`` (a top-level function, or a submission object's method) as a watched call: see
        :mod:`autograder.harness.calls`."""
        target = getattr(self, name) if isinstance(name, str) else name
        label = name if isinstance(name, str) else name._label
        if not isinstance(target, RemoteObject):
            raise SubmissionError(label, "TypeError", "this is not a function")
        return WatchedCall(self._session, target, label, tuple(forbid), check_args)

    def probe(self, name: str, *args: Any, **kwargs: Any) -> Any:
        s = self._session
        return s.call({"op": "probe", "name": name, "args": s.unwrap(list(args)), "kwargs": s.unwrap(kwargs)},
                      name, "running the probe")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        s = self._session
        s.ensure_started()  # (a restart forgets every handle: it must happen before the cache is read)
        known = s.names.get(name)
        if known is not None and known._generation == s.generation:
            return known
        try:
            value = s.call({"op": "get", "name": name}, name, "looking up")
        except SubmissionError as exc:
            if exc.error_type == "NameError" and not isinstance(exc, LimitExceeded):
                raise MissingName(name) from None
            raise
        if isinstance(value, RemoteObject):
            s.names[name] = value
        return value
