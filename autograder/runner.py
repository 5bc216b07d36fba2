"""The untrusted side: runs inside the sandbox, executes a submission's code and serves calls on it.

One sandbox holds a *zygote*: a process that imports the heavy libraries once (numpy, torch, matplotlib), never
runs student code, and forks a fresh child per submission. After each submission it kills every other process
in the sandbox and wipes every writable place (scratch, /tmp, /dev/shm, System V IPC), so nothing one
submission leaves behind reaches the next. Each submission lives in a world of its own (:mod:`confine`): in the
local sandbox, fresh user, PID, mount, IPC and network namespaces below the zygote, so neither the zygote nor any
earlier submission is addressable or visible; in either backend, no capabilities and the system-call filter the
trusted side built. The zygote also re-asserts its own limits, priority, CPU affinity and environment before
every fork and reports itself damaged when it cannot, so the trusted side starts a new sandbox instead of handing
a damaged one to the next student. A submission's process says hello once it is confined: a failure before that
is the grader's (retried elsewhere), never the student's.

This module, :mod:`protocol` and :mod:`confine` are copied into the sandbox as the package ``agrunner``; they
import nothing else from the project. The zygote talks to the trusted side over a SOCK_SEQPACKET control socket
(JSON): an inherited fd (fd 3, the local sandbox) or, in a container, a unix socket bind-mounted from the host that it
connects to (``control_path``). It receives each child's channel socket and output pipe as file descriptors;
a child speaks :mod:`protocol`.
"""

from __future__ import annotations

import builtins
import ctypes
import importlib
import io
import json
import os
import resource
import signal
import socket
import sys
import time
import traceback
from typing import Any

from . import confine
from .protocol import OVER_LIMIT, Handle, ProtocolError, Unencodable, encode, read_message, write_message
from .shell import NotebookShell

CONTROL_FD = 3
SCRATCH = "/work/scratch"
PUBLIC = "/work/public"
WIPE = (SCRATCH, "/tmp", "/dev/shm")
PR_SET_DUMPABLE = 4
MAX_TEXT = 500
HELLO = "ready"    # the submission's process's first message: confined, and no student code has run yet
REAP_GRACE = 1.0   # seconds for a submission whose channel closed to relay its own exit status


# --- watched calls: what a call did to its arguments, and which forbidden functions it used ----------
#
# Arguments cross the boundary as copies, so a function that changes an input in place (where its docstring
# forbids it) does no harm a check could see. A watched call compares each argument before and after the call,
# and records calls of functions a check declared forbidden for this answer (week 2: PyTorch's built-in cells).
# Only flags go back; the verdict and its words stay on the trusted side (autograder.harness.calls). Both
# watches serve honest mistakes: code in this process could defeat them, and gains nothing by it but points the
# check's other assertions (computed on the trusted side) still decide.

_OPAQUE = object()   # a value that is not plain data (an RNG, a handle): not compared
_IMMUTABLE = (type(None), bool, int, float, complex, str, bytes)
MAX_FORBIDDEN = 64


def snapshot(value: Any) -> Any:
    """A deep copy of the plain data in ``value`` (arrays and tensors cloned), to compare after a call."""
    if isinstance(value, _IMMUTABLE):
        return value
    if type(value) in (list, tuple):
        return type(value)(snapshot(v) for v in value)
    if type(value) is dict:
        return {k: snapshot(v) for k, v in value.items()}
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.ndarray):
        return value.copy()
    if np is not None and isinstance(value, np.generic):
        return value
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().clone()
    return _OPAQUE


def unchanged(before: Any, after: Any) -> bool:
    """Whether ``after`` still holds what :func:`snapshot` saw (NaN equals NaN; dtype and shape must match)."""
    if before is _OPAQUE or isinstance(before, _IMMUTABLE):
        return True
    if type(before) in (list, tuple):
        return (type(after) is type(before) and len(after) == len(before)
                and all(unchanged(b, a) for b, a in zip(before, after, strict=True)))
    if type(before) is dict:
        return (type(after) is dict and after.keys() == before.keys()
                and all(unchanged(before[k], after[k]) for k in before))
    np = sys.modules.get("numpy")
    if np is not None and isinstance(before, np.ndarray):
        return (isinstance(after, np.ndarray) and after.shape == before.shape and after.dtype == before.dtype
                and bool(np.array_equal(after, before, equal_nan=before.dtype.kind in "fc")))
    if np is not None and isinstance(before, np.generic):
        return True
    return _same_tensor(before, after)


def _same_tensor(before: Any, after: Any) -> bool:
    torch = sys.modules["torch"]
    if not isinstance(after, torch.Tensor) or after.shape != before.shape or after.dtype != before.dtype:
        return False
    now = after.detach()
    if now.device != before.device:
        return False
    if before.is_floating_point() or before.is_complex():
        return bool(((now == before) | (torch.isnan(now) & torch.isnan(before))).all())
    return bool(torch.equal(now, before))


def _resolve_qualname(qualname: str) -> tuple[Any, str, Any] | None:
    """(owner, attribute, object) for ``"torch.nn.LSTMCell"``; None when it names nothing importable."""
    parts = qualname.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner: Any = importlib.import_module(".".join(parts[:cut]))
            for attr in parts[cut:-1]:
                owner = getattr(owner, attr)
            return owner, parts[-1], getattr(owner, parts[-1])
        except Exception:  # noqa: BLE001, S112 - not importable this way: try a shorter module prefix
            continue
    return None


class ForbiddenCalls:
    """While active, records calls of the functions and classes named in ``names`` (qualified names).

    A function is replaced by a recording wrapper where it lives and wherever the notebook bound it
    (``from torch import lstm_cell``); a class has its ``__init__`` and ``forward`` wrapped. A name under
    ``torch.`` is also caught by its function name in a TorchFunctionMode, which sees every route to it
    (``torch._VF``, ``torch._C._VariableFunctions``, ``torch.ops.aten``, an ``nn`` module's forward)."""

    def __init__(self, names: list[str], namespace: dict[str, Any]):
        self.names, self.namespace = names, namespace
        self.seen: list[str] = []
        self._undo: list[Any] = []
        self._mode: Any = None

    def _record(self, name: str) -> None:
        if name not in self.seen:
            self.seen.append(name)

    def _wrap(self, original: Any, name: str) -> Any:
        def recorded(*args: Any, **kwargs: Any) -> Any:
            self._record(name)
            return original(*args, **kwargs)
        return recorded

    def _patch(self, owner: Any, attr: str, value: Any) -> None:
        had = attr in vars(owner) if isinstance(owner, type) else True
        previous = vars(owner).get(attr) if isinstance(owner, type) else getattr(owner, attr)
        setattr(owner, attr, value)
        self._undo.append((owner, attr, had, previous))

    def __enter__(self) -> ForbiddenCalls:
        by_leaf: dict[str, str] = {}
        for name in self.names:
            found = _resolve_qualname(name)
            if name.startswith("torch.") and not (found and isinstance(found[2], type)):
                by_leaf[name.rsplit(".", 1)[1]] = name
            if found is None:
                continue
            owner, attr, obj = found
            if isinstance(obj, type):
                for method in ("__init__", "forward"):
                    if callable(getattr(obj, method, None)):
                        self._patch(obj, method, self._wrap(getattr(obj, method), name))
                continue
            if callable(obj):
                wrapper = self._wrap(obj, name)
                self._patch(owner, attr, wrapper)
                for key, value in list(self.namespace.items()):
                    if value is obj:
                        self._patch_namespace(key, obj, wrapper)
        if by_leaf:
            self._enter_mode(by_leaf)
        return self

    def _patch_namespace(self, key: str, original: Any, wrapper: Any) -> None:
        self.namespace[key] = wrapper
        self._undo.append((self.namespace, key, None, original))

    def _enter_mode(self, by_leaf: dict[str, str]) -> None:
        from torch.overrides import TorchFunctionMode

        watch = self

        class Watch(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
                name = by_leaf.get(getattr(func, "__name__", ""))
                if name is not None:
                    watch._record(name)
                return func(*args, **(kwargs or {}))

        self._mode = Watch()
        self._mode.__enter__()

    def __exit__(self, *exc: object) -> None:
        if self._mode is not None:
            self._mode.__exit__(None, None, None)
        for owner, attr, had, previous in reversed(self._undo):
            if owner is self.namespace:
                if self.namespace.get(attr) is not previous:
                    self.namespace[attr] = previous
            elif isinstance(owner, type) and not had:
                delattr(owner, attr)
            else:
                setattr(owner, attr, previous)
        self._undo.clear()


def watched_call(function: Any, args: list, kwargs: dict, check_args: bool, forbid: list[str],
                 namespace: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Call ``function``; report which arguments it changed in place and which forbidden names it called."""
    before = [snapshot(a) for a in args] if check_args else []
    before_kw = {k: snapshot(v) for k, v in kwargs.items()} if check_args else {}
    with ForbiddenCalls(forbid, namespace) as watch:
        value = function(*args, **kwargs)
    report = {
        "mutated": [not unchanged(b, a) for b, a in zip(before, args, strict=True)] if check_args else [],
        "mutated_kwargs": {k: not unchanged(before_kw[k], kwargs[k]) for k in kwargs} if check_args else {},
        "forbidden": list(watch.seen),
    }
    return value, report


# --- the child: one submission -------------------------------------------------------------------

def _text(value: Any) -> str:
    """str() of a student's object, which may itself misbehave."""
    try:
        text = str(value)
    except BaseException:  # noqa: BLE001 - a student's __str__ can raise anything
        text = "<unprintable>"
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _where(exc: BaseException, cells: dict[str, str]) -> list | None:
    """[cell label, line] of the innermost frame of the student's own cells in the exception's traceback."""
    found, tb = None, exc.__traceback__
    while tb is not None:
        label = cells.get(tb.tb_frame.f_code.co_filename)
        if label is not None:
            found = [label, tb.tb_lineno]
        tb = tb.tb_next
    return found


def _line_in(exc: BaseException, label: str, cells: dict[str, str]) -> int:
    """The line of cell ``label`` where ``exc`` was raised (a syntax error's own line), or 0."""
    if isinstance(exc, SyntaxError) and cells.get(exc.filename or "") == label:
        return exc.lineno or 0
    where = _where(exc, cells)
    return where[1] if where and where[0] == label else 0


def _error(exc: BaseException, cells: dict[str, str]) -> dict[str, Any]:
    """An error raised while a hidden check called the submission: its type and where, never its message (which
    could carry the check's inputs out to the student: attacks.md #36)."""
    return {"type": _text(type(exc).__name__)[:100], "where": _where(exc, cells), "builtin": _builtin_base(exc)}


def _builtin_base(exc: BaseException) -> str:
    """The nearest built-in exception class of ``exc``'s (an nbgrader test cell's ``except ValueError:`` catches
    a ``class BadInput(ValueError)``); the trusted side accepts only built-in names."""
    for kind in type(exc).__mro__:
        if getattr(builtins, kind.__name__, None) is kind:
            return kind.__name__
    return ""


class Server:
    """Executes the cells, then answers requests; objects that are not plain data stay here as handles."""

    def __init__(self, shell: NotebookShell) -> None:
        self.shell = shell
        self.namespace: dict[str, Any] = shell.namespace
        self.cells: dict[str, str] = {}  # compiled file name -> cell label
        self.probes: dict[str, Any] = {}
        self.handles: dict[int, Any] = {}
        # top-level names the grader holds as handles, with the identity of the object each was bound to: a reply
        # names those rebound since (``rebound``), so the grader can keep `submission.f` between calls (one
        # request per call instead of two) and still see every rebinding, as Jupyter would
        self.handed_out: dict[str, int] = {}

    def handle_of(self, value: Any) -> Handle:
        handle = Handle(len(self.handles) + 1)
        self.handles[handle.id] = value
        return handle

    def resolve(self, value: Any) -> Any:
        if type(value) is Handle:
            if value.id not in self.handles:
                raise ProtocolError(f"unknown handle {value.id}")
            return self.handles[value.id]
        if type(value) is list:
            return [self.resolve(v) for v in value]
        if type(value) is tuple:
            return tuple(self.resolve(v) for v in value)
        if type(value) is dict:
            return {k: self.resolve(v) for k, v in value.items()}
        return value

    def op_exec(self, cells: list[dict[str, str]]) -> dict[str, Any]:
        """Run the notebook's cells in order; a cell's error is recorded (with its message: no hidden input has
        reached the submission yet) and the next cell runs, as in Jupyter's "run all, continue after errors"."""
        errors = []
        for cell in cells:
            self.cells[self.shell.filename(cell["label"])] = cell["label"]
            try:
                exc = self.shell.run(cell["label"], cell["source"])
            except BaseException as raised:  # noqa: BLE001 - whatever escapes IPython: recorded, not obeyed
                exc = raised
            if exc is not None:
                errors.append({"cell": cell["label"], "error_type": _text(type(exc).__name__)[:100],
                               "message": _text(exc), "line": _line_in(exc, cell["label"], self.cells)})
            _flush()
        return {"cell_errors": errors}

    def op_probes(self, source: str) -> list[str]:
        """Instructor-written probe functions; they see the submission's namespace as ``submission``."""
        scope: dict[str, Any] = {"__name__": "probes", "submission": self.namespace}
        exec(compile(source, "<probes>", "exec"), scope)  # noqa: S102
        self.probes = {k: v for k, v in scope.items() if callable(v) and not k.startswith("_")}
        return sorted(self.probes)

    def op_has(self, name: str) -> bool:
        return name in self.namespace

    def op_get(self, name: str) -> Any:
        if name not in self.namespace:
            raise NameError(f"name '{name}' is not defined")
        return self.namespace[name]

    def op_assign(self, name: str, value: Any) -> None:
        """A test cell rebinds one of the notebook's names (nbgrader's example restores a deleted function)."""
        if type(name) is not str or not name.isidentifier():
            raise ProtocolError("a name to assign must be an identifier")
        self.namespace[name] = self.resolve(value)

    def op_delete(self, name: str) -> None:
        """A test cell deletes one of the notebook's names (to see that another function needs it)."""
        if type(name) is not str or name not in self.namespace:
            raise NameError(f"name '{name}' is not defined")
        del self.namespace[name]

    def op_getattr(self, target: Handle, attr: str) -> Any:
        return getattr(self.resolve(target), attr)

    def op_call(self, target: Handle, args: list, kwargs: dict) -> Any:
        return self.resolve(target)(*self.resolve(args), **self.resolve(kwargs))

    def op_call_watched(self, target: Handle, args: list, kwargs: dict, check_args: bool = True,
                        forbid: list | None = None) -> dict[str, Any]:
        """A call that also reports, per argument, whether it changed in place, and the forbidden names it
        called (:func:`watched_call`). A value that is not plain data stays here, as a handle."""
        names = [n for n in (forbid or [])[:MAX_FORBIDDEN] if type(n) is str]
        args, kwargs = self.resolve(args), self.resolve(kwargs)
        if type(args) is not list or type(kwargs) is not dict:
            raise ProtocolError("call_watched needs a list of arguments and a dict of keyword arguments")
        value, report = watched_call(self.resolve(target), args, kwargs, bool(check_args), names, self.namespace)
        try:
            encode({"ok": value})
        except Unencodable as exc:
            if not exc.over_limit:
                value = self.handle_of(value)
        return {"value": value, **report}

    def op_make(self, qualname: str, args: list, kwargs: dict) -> Any:
        return self.handle_of(resolve_qualname(qualname)(*self.resolve(args), **self.resolve(kwargs)))

    def op_probe(self, name: str, args: list, kwargs: dict) -> Any:
        if name not in self.probes:
            raise NameError(f"no probe named {name!r}")
        return self.probes[name](*self.resolve(args), **self.resolve(kwargs))

    def op_free(self, ids: list[int]) -> None:
        for handle_id in ids:
            self.handles.pop(handle_id, None)

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        method = getattr(self, f"op_{op}", None)
        if not isinstance(op, str) or method is None:
            return {"id": request.get("id"), "error": {"type": "ProtocolError", "message": f"unknown op {op!r}"}}
        kwargs = {k: v for k, v in request.items() if k not in ("v", "id", "op")}
        try:
            value = method(**kwargs)
        except BaseException as exc:  # noqa: BLE001 - the student's error is the answer, whatever it is
            reply = {"id": request["id"], "error": _error(exc, self.cells)}
        else:
            reply = {"id": request["id"], "ok": value}
            if op == "get" and not _plain(value):
                reply["ok"] = self.handle_of(value)
                self.handed_out[kwargs["name"]] = id(value)  # the handle keeps it alive: its id stays its own
        finally:
            _flush()
        rebound = [name for name, ident in self.handed_out.items() if id(self.namespace.get(name, _GONE)) != ident]
        for name in rebound:
            del self.handed_out[name]
        if rebound:
            reply["rebound"] = rebound
        return reply


_GONE = object()


def _plain(value: Any) -> bool:
    """Whether ``value`` can cross as data (or is over a limit, which the reply reports), not as a handle."""
    try:
        encode({"ok": value})
    except Unencodable as exc:
        return exc.over_limit
    return True


def resolve_qualname(qualname: str) -> Any:
    """``"numpy.random.default_rng"`` → the object, importing the longest module prefix."""
    parts = qualname.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(f"cannot import {qualname}")


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001, S110 - a replaced or closed stream must not stop the server
            pass


def serve(channel: socket.socket, server: Server, max_request: int) -> None:
    while True:
        try:
            request = read_message(channel, max_request)
        except (EOFError, OSError):
            return
        reply = server.answer(request)
        try:
            write_message(channel, reply)
        except Unencodable as exc:
            write_message(channel, _unsendable(server, reply, exc))


def _unsendable(server: Server, reply: dict[str, Any], exc: Unencodable) -> dict[str, Any]:
    """What to send instead of a reply that cannot be sent: a handle to a value that is not plain data (it stays
    here, the check may call it), or the limit a value broke (the trusted side words it itself)."""
    if "ok" in reply and not exc.over_limit:
        return {"id": reply["id"], "ok": server.handle_of(reply["ok"])}
    if "ok" in reply:
        return {"id": reply["id"], "error": {"type": OVER_LIMIT, "reason": exc.reason}}
    return {"id": reply["id"], "error": {"type": "Error", "where": None}}  # an error whose own fields would not go


def _set_limits(limits: dict[str, int]) -> None:
    for name, value in (("RLIMIT_FSIZE", limits["file_size"]), ("RLIMIT_CORE", 0),
                        ("RLIMIT_NOFILE", limits["nofile"])):
        resource.setrlimit(getattr(resource, name), (value, value))
    if limits.get("address_space"):  # fallback when no cgroup enforces memory: current size + the allowance
        with open("/proc/self/statm") as statm:
            current = int(statm.read().split()[0]) * resource.getpagesize()
        cap = current + limits["address_space"]
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def run_child(channel_fd: int, output_fd: int, number: int, settings: dict[str, Any], shell: NotebookShell
              ) -> None:
    """In the submission's process: become one submission, say it is ready, then serve until the channel closes.

    Everything before the hello is the runner's own code; a process that dies before it is the grader's failure,
    never the student's (the trusted side retries in a fresh sandbox)."""
    try:
        os.setsid()  # its own session and process group (in a container it is one already)
    except OSError:
        pass
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.close(output_fd)
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=True, errors="replace")
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), line_buffering=True, errors="replace")
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # its own /proc/self readable again, as in a kernel
    try:
        with open("/proc/self/oom_score_adj", "w") as adj:
            adj.write("1000")  # under memory pressure the submission goes first, never the zygote
    except OSError:
        pass
    workdir = os.path.join(SCRATCH, f"s{number}")
    os.makedirs(workdir, exist_ok=True)
    if os.path.isdir(PUBLIC):
        for name in os.listdir(PUBLIC):
            os.symlink(os.path.join(PUBLIC, name), os.path.join(workdir, name))
    os.chdir(workdir)
    sys.path.insert(0, "")  # as in a Jupyter kernel: modules the notebook writes next to itself are importable
    os.environ.update({"HOME": workdir, "TMPDIR": "/tmp"})
    _set_limits(settings["limits"])
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(int(settings.get("threads", 1)))
    channel = socket.socket(fileno=channel_fd)
    write_message(channel, {"id": 0, "ok": HELLO})
    serve(channel, Server(shell), settings["limits"]["message"])


def start_submission(fds: list[int], number: int, settings: dict[str, Any], zygote: int, shell: NotebookShell
                     ) -> None:
    """In the zygote's fresh child: confine, then run the submission (below a tiny init in the local sandbox).
    Never returns; its exit status is the submission process's own (relayed from inside its PID namespace)."""
    channel_fd, output_fd = fds
    os.dup2(output_fd, 2)  # a failure on the way is reported with the grader's error, never lost
    os.setsid()
    bpf = bytes.fromhex(settings["filter"])
    if not settings.get("isolate"):
        confine.drop_privileges(bpf)
        run_child(channel_fd, output_fd, number, settings, shell)
        return
    confine.enter_namespaces(confine.sandbox_processes(zygote))
    status_read, status_write = os.pipe()
    init = os.fork()
    if init == 0:
        os.close(status_read)
        _init(channel_fd, output_fd, number, settings, shell, bpf, status_write)
    for fd in (status_write, channel_fd, output_fd):
        os.close(fd)
    os.waitpid(init, 0)
    relay_status(os.read(status_read, 4))


def _init(channel_fd: int, output_fd: int, number: int, settings: dict[str, Any], shell: NotebookShell, bpf: bytes,
          status_fd: int) -> None:
    """PID 1 of the submission's namespace: reaps its orphans, and hands on the submission's exit status when it
    ends (then the kernel kills whatever the submission left in the namespace)."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # PID 1 ignores signals it has no handler for
        confine.drop_privileges(bpf)
        submission = os.fork()
        if submission == 0:
            os.close(status_fd)
            code = 0
            try:
                run_child(channel_fd, output_fd, number, settings, shell)
            except BaseException:  # noqa: BLE001 - before the hello: the trusted side retries elsewhere
                traceback.print_exc()
                code = 0x7E
            finally:
                os._exit(code)
        os.close(channel_fd)
        os.close(output_fd)
        while True:
            pid, status = os.waitpid(-1, 0)
            if pid == submission:
                os.write(status_fd, status.to_bytes(4, "little"))
                break
    except BaseException:  # noqa: BLE001 - before the hello: reported with the grader's error
        traceback.print_exc()
    finally:
        os._exit(0)


def relay_status(raw: bytes) -> None:
    """Exit as the submission did: the same exit code, or killed by the same signal."""
    if len(raw) != 4:
        os._exit(0x7F)  # the init was killed: so was the submission
    status = int.from_bytes(raw, "little")
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0x7F)


# --- the zygote ----------------------------------------------------------------------------------

def use_course_matplotlibrc() -> None:
    """Plots render Korean labels: matplotlib reads the course's matplotlibrc, shipped beside this module (set
    before matplotlib is first imported, so the zygote and every submission it forks see it)."""
    rc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "matplotlibrc")
    if os.path.isfile(rc):
        os.environ.setdefault("MATPLOTLIBRC", rc)


def _preimport(modules: list[str]) -> None:
    use_course_matplotlibrc()
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - a missing optional library is simply not pre-imported
            continue


def _others() -> list[int]:
    keep = {1, os.getpid(), os.getppid()}
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in keep]


def kill_everything_else() -> None:
    """SIGKILL every process in the sandbox but init and the zygote, until none is left."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        others = _others()
        if not others:
            return
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        time.sleep(0.002)


def _remove_tree(path: str) -> None:
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files:
            try:
                os.unlink(os.path.join(root, name))
            except OSError:
                os.chmod(root, 0o700)
                os.unlink(os.path.join(root, name))
        for name in dirs:
            full = os.path.join(root, name)
            if os.path.islink(full):
                os.unlink(full)
                continue
            os.chmod(full, 0o700)
            os.rmdir(full)


def wipe(keep: list[str] | tuple[str, ...] = ()) -> None:
    """Empty every writable place and drop System V IPC objects. ``keep``: read-only runtime folders bound inside
    a wiped place; they and the folders leading to them stay (if one was moved away, this raises, the zygote dies
    and the trusted side starts a fresh sandbox)."""
    for place in WIPE:
        if not os.path.isdir(place):
            continue
        try:
            os.chmod(place, 0o1777 if place != SCRATCH else 0o755)
        except PermissionError:  # in a container, /tmp and /dev/shm belong to root (mode 1777 already)
            pass
        _empty(place, keep)
    for folder in keep:
        if not os.path.ismount(folder):
            raise RuntimeError(f"{folder} is no longer where the runtime was mounted")
    libc = ctypes.CDLL(None, use_errno=True)
    for kind, remove in (("shm", libc.shmctl), ("msg", libc.msgctl), ("sem", libc.semctl)):
        try:
            with open(f"/proc/sysvipc/{kind}") as table:
                ids = [int(line.split()[1]) for line in table.readlines()[1:] if line.strip()]
        except OSError:
            continue
        for ipc_id in ids:
            remove(ipc_id, 0, 0) if kind == "sem" else remove(ipc_id, 0, None)  # IPC_RMID == 0


def _empty(folder: str, keep: list[str] | tuple[str, ...]) -> None:
    for name in os.listdir(folder):
        full = os.path.join(folder, name)
        if full in keep:
            continue
        if any(k.startswith(full + "/") for k in keep) and os.path.isdir(full) and not os.path.islink(full):
            _empty(full, keep)  # a folder on the way to a kept one: empty it around the mount
        elif os.path.isdir(full) and not os.path.islink(full):
            os.chmod(full, 0o700)
            _remove_tree(full)
            os.rmdir(full)
        else:
            os.unlink(full)


def _reply(control: socket.socket, message: dict[str, Any]) -> None:
    control.send(json.dumps(message).encode())


def _control_socket(settings: dict[str, Any]) -> socket.socket:
    if settings.get("control_path"):  # in a container: the trusted side listens on a bind-mounted socket
        control = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        control.connect(settings["control_path"])
        return control
    return socket.socket(fileno=int(settings.get("control_fd", CONTROL_FD)))


def zygote(settings: dict[str, Any]) -> None:
    control = _control_socket(settings)
    _close_other_fds(control.fileno())
    _preimport(settings.get("preimport", []))
    shell = NotebookShell()  # made once, pristine in every child
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    keep = settings.get("keep", [])
    wipe(keep)
    saved = confine.snapshot()
    _reply(control, {"ready": True})
    child, number = 0, 0
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(control, 65536, 2)
        except OSError:
            return
        if not data:
            return
        request = json.loads(data)
        if request.get("op") == "spawn" and len(fds) == 2 and not child:
            damage = confine.reassert(saved)
            if damage:  # the trusted side starts a fresh sandbox: this one would fail the next student
                for fd in fds:
                    os.close(fd)
                _reply(control, {"damaged": damage})
                continue
            number += 1
            zygote_pid = os.getpid()
            child = os.fork()
            if child == 0:
                control.close()
                code = 0
                try:
                    start_submission(fds, number, settings, zygote_pid, shell)
                except BaseException:  # noqa: BLE001 - the trusted side sees no hello and retries elsewhere
                    traceback.print_exc()
                    code = 0x7E
                finally:
                    os._exit(code)
            for fd in fds:
                os.close(fd)
            _reply(control, {"spawned": number})
        elif request.get("op") == "reap":
            status = _end(child, grace=REAP_GRACE if request.get("ended") else 0.0) if child else None
            kill_everything_else()
            wipe(keep)
            child = 0
            _reply(control, {"reaped": True, "status": status})
        else:
            for fd in fds:
                os.close(fd)
            _reply(control, {"error": "bad request"})


def _close_other_fds(keep: int) -> None:
    """Nothing the zygote inherited (bubblewrap's argument pipe, say) may reach a submission."""
    os.closerange(3, keep)
    os.closerange(keep + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def _end(child: int, grace: float) -> int | None:
    """The submission's wait status: after ``grace`` seconds for one that is already ending (its channel closed,
    so its exit status is on its way up from its namespace), else killed now."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            pid, status = os.waitpid(child, os.WNOHANG)
        except ChildProcessError:
            return None
        if pid:
            return status
        time.sleep(0.002)
    try:
        os.kill(child, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        return os.waitpid(child, 0)[1]
    except ChildProcessError:
        return None


def main() -> None:
    """``python -I -c BOOTSTRAP SETTINGS_FILE``: the settings travel in a file, so argv holds nothing worth reading."""
    try:
        with open(sys.argv[1], encoding="utf-8") as handle:
            settings = json.load(handle)
        zygote(settings)
    except Exception:  # noqa: BLE001 - the trusted side only sees the control socket close
        traceback.print_exc()
        sys.exit(1)
