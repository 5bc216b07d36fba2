"""nbgrader's autograded test cells, run as checks by trusted code; and its manually graded cells, kept pending.

An nbgrader test cell (``grade: true``, not a solution, points > 0) is a check worth its points, all or nothing,
as in nbgrader. Unlike nbgrader, its code never runs beside the student's: it runs here, in the trusted grading
process, against a namespace whose names resolve to the submission's objects through the ``submission`` fixture.
Calls cross the sandbox boundary as plain data and every comparison happens on this side, so an always-equal
object, a patched builtin or a look at the caller's frame gains nothing. Specifically:

- the cell's text is the *source* notebook's (hidden test blocks included); it never enters the sandbox;
- each name the cell uses that the submission defines is fetched from it (builtins never are: the cell's
  builtins are this process's own), and the modules the notebook's locked cells import are imported here;
- an exception raised in the submission crosses as its nearest built-in type, so ``except ValueError:`` works;
- deleting one of the submission's names, or assigning it back something that came from the submission
  (nbgrader's example deletes ``squares`` to see that ``sum_of_squares`` uses it, then restores it), is carried
  to the submission and undone when the cell ends, so no test cell sees what another left behind; a value the
  test cell made itself (``expected = [1, 4, 9]``) never enters the sandbox, whatever its name;
- a cell marked ``{"autograder": {"run_in_sandbox": true}}`` runs in the sandbox instead, with nbgrader's
  semantics (it passes when it raised nothing); its verdict is labelled *forgeable*: code of the student's ran in
  the same process.

Manually graded answers (markdown or code cells with ``grade`` and ``solution``) and task cells count in the
maximum and are recorded as *pending manual review*.
"""

from __future__ import annotations

import ast
import builtins
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .harness.feedback import KNOWN_ERROR_TYPES, SubmissionError
from .i18n import N_, _
from .notebooks import SANDBOX_FLAG, in_sandbox, is_manual_cell, is_test_cell, is_trusted_test_cell
from .notebooks import _nbgrader as _meta
from .notebooks import points as _points

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from .config import Assignment, Course

META_KEY = "autograder"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
PENDING = "pending manual review"
FORGEABLE = N_("forgeable: this test cell ran inside the sandbox, beside the student's code")
# Exceptions that change control flow rather than report an error: never re-raised from the submission's side.
_NOT_RAISED = {"StopIteration", "StopAsyncIteration", "GeneratorExit", "KeyboardInterrupt", "SystemExit"}
_BUILTIN_NAMES = frozenset(dir(builtins))


@dataclass(frozen=True)
class TestCell:
    """One autograded test cell of the source notebook, as the trusted side runs it."""

    __test__ = False

    notebook: str
    grade_id: str
    points: float
    source: str          # the source notebook's text: hidden tests included
    sandbox: bool        # run in the sandbox (its release text), verdict forgeable
    description: str

    @property
    def test_id(self) -> str:
        return f"{self.notebook}::{self.grade_id}"


@dataclass(frozen=True)
class ManualCell:
    """A part graded by a person: counted in the maximum, pending until reviewed."""

    notebook: str
    grade_id: str
    points: float
    kind: str  # "markdown answer", "code answer", "task"

    @property
    def test_id(self) -> str:
        return f"{self.notebook}::{self.grade_id}"


def _description(source: str, grade_id: str) -> str:
    """The cell's docstring's first line (nbgrader's examples open each test cell with one), else its id."""
    try:
        tree = ast.parse(source)
        doc = ast.get_docstring(tree) or ""
    except SyntaxError:
        doc = ""
    first = doc.strip().splitlines()[0].strip() if doc.strip() else ""
    return first or f"test cell {grade_id}"


def cells_of(notebook_name: str, source: NotebookNode) -> tuple[list[TestCell], list[ManualCell]]:
    tests, manual = [], []
    for cell in source.cells:
        gid = _meta(cell).get("grade_id") or ""
        if is_test_cell(cell):
            tests.append(TestCell(notebook_name, gid, _points(cell), cell.source, in_sandbox(cell),
                                  _description(cell.source, gid)))
        elif is_manual_cell(cell):
            kind = "task" if _meta(cell).get("task") else f"{cell.cell_type} answer"
            manual.append(ManualCell(notebook_name, gid, _points(cell), kind))
    return tests, manual


def assignment_cells(course: Course, assignment: Assignment) -> tuple[list[TestCell], list[ManualCell]]:
    """Every test cell and manually graded cell of the assignment's source notebooks, in course order."""
    from .notebooks import read_notebook

    tests: list[TestCell] = []
    manual: list[ManualCell] = []
    for name in assignment.notebooks:
        path = course.source_dir(assignment) / name
        if path.is_file():
            t, m = cells_of(name, read_notebook(path))
            tests += t
            manual += m
    return tests, manual


def trusted_imports(course: Course, assignment: Assignment) -> str:
    """The import statements of the source notebooks' locked and test cells (trusted text), to run here."""
    from .notebooks import is_locked, read_notebook

    lines: list[str] = []
    for name in assignment.notebooks:
        path = course.source_dir(assignment) / name
        if not path.is_file():
            continue
        for cell in read_notebook(path).cells:
            if cell.cell_type != "code" or not is_locked(cell) or is_trusted_test_cell(cell):
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            lines += [ast.unparse(node) for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    return "\n".join(dict.fromkeys(lines))


def write_spec(course: Course, assignment: Assignment, path: Path) -> Path:
    """The JSON file the harness plugin reads (``--ag-testcells``): test cells, manual cells, imports."""
    tests, manual = assignment_cells(course, assignment)
    path.write_text(json.dumps({"tests": [asdict(t) for t in tests], "manual": [asdict(m) for m in manual],
                                "imports": trusted_imports(course, assignment)}), encoding="utf-8")
    return path


def read_spec(path: Path) -> tuple[list[TestCell], list[ManualCell], str]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return ([TestCell(**t) for t in data["tests"]], [ManualCell(**m) for m in data["manual"]], data["imports"])


# --- release-time analysis -----------------------------------------------------------------------------------

def _bound_in(tree: ast.AST) -> set[str]:
    """Names the cell binds itself (assignments, imports, defs, for/with/except targets)."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return bound


def _root(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def uncarriable(source: str) -> list[tuple[int, str]]:
    """(line, reason) for each thing in a test cell the data protocol cannot carry: the cell cannot be graded by
    trusted code as written. Names the cell does not bind itself are taken to be the submission's."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return [(exc.lineno or 1, "it is not plain Python (IPython magics and shell commands run only in a "
                                  "kernel)")]
    own = _bound_in(tree) | _BUILTIN_NAMES
    defined_functions = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    found: list[tuple[int, str]] = []

    def theirs(node: ast.AST) -> bool:
        name = _root(node)
        return name is not None and name not in own

    for node in ast.walk(tree):
        line = getattr(node, "lineno", 1)
        if isinstance(node, ast.Global | ast.Nonlocal):
            found.append((line, "`global`/`nonlocal` statements cannot be carried to the submission"))
        elif isinstance(node, ast.Attribute | ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del) \
                and theirs(node.value):
            found.append((line, "it changes an object of the submission in place (attribute or item assignment); "
                                "only whole names can be assigned or deleted"))
        elif isinstance(node, ast.Attribute) and node.attr.startswith("__") and theirs(node.value):
            found.append((line, f"`{node.attr}` of the submission's objects stays in the sandbox"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in (
                "globals", "locals", "vars", "eval", "exec") and not (node.func.id == "vars" and node.args):
            found.append((line, f"`{node.func.id}()` reads or runs code in the notebook's namespace as a whole"))
        elif isinstance(node, ast.Call) and theirs(node.func):
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if isinstance(arg, ast.Lambda) or (isinstance(arg, ast.Name) and arg.id in defined_functions):
                    found.append((line, "it passes a function of the test cell to the submission (code cannot "
                                        "cross the sandbox boundary)"))
    return sorted(set(found))


def release_problems(notebook_name: str, source: NotebookNode) -> list[str]:
    """What `release` must refuse about test cells: one finding per problem, naming cell, line and reason."""
    problems = []
    for cell in source.cells:
        if not is_test_cell(cell):
            continue
        gid = _meta(cell).get("grade_id")
        if in_sandbox(cell):
            if HIDDEN_BEGIN in cell.source:
                problems.append(f"{notebook_name}: test cell {gid} runs in the sandbox ({SANDBOX_FLAG}) but has "
                                "hidden tests, whose text would enter the sandbox")
            continue
        for line, reason in uncarriable(cell.source):
            problems.append(f"{notebook_name}: test cell {gid}, line {line}: {reason}; rewrite it as a pytest "
                            f"check, or mark the cell with metadata {{\"{META_KEY}\": {{\"{SANDBOX_FLAG}\": true}}}} "
                            "to run it in the sandbox (its verdict is then forgeable)")
    return problems


# --- running a test cell on the trusted side -----------------------------------------------------------------

def _builtin_type(error: SubmissionError) -> type[BaseException] | None:
    name = getattr(error, "builtin_type", "")  # (never the error's own class name: a class may call itself anything)
    if name in _NOT_RAISED or name not in KNOWN_ERROR_TYPES:
        return None
    kind = getattr(builtins, name, None)
    return kind if isinstance(kind, type) and issubclass(kind, Exception) else None


_RAISED: dict[type, type] = {}


def as_builtin(error: SubmissionError) -> BaseException:
    """The submission's exception as its nearest built-in type (``except ValueError:`` in a test cell catches
    it), still a :class:`SubmissionError` so the report says where the student's code raised it."""
    kind = _builtin_type(error)
    if kind is None:
        return error
    if kind not in _RAISED:
        try:
            _RAISED[kind] = type(f"Submission{kind.__name__}", (SubmissionError, kind), {})
        except TypeError:  # a layout that cannot be combined: the plain built-in type
            _RAISED[kind] = kind
    cls = _RAISED[kind]
    if issubclass(cls, SubmissionError):
        raised = cls.__new__(cls)
        SubmissionError.__init__(raised, error.name, error.error_type, error.message, error.where)
        return raised
    return cls(str(error))


_PLAIN = (type(None), bool, int, float, complex, str, bytes)


class SubmissionObject:
    """One of the submission's objects as a test cell sees it: calls and attributes go through the backend; the
    object's own operators (``__eq__``, ``__bool__`` …) never run here, so an always-equal object is just an
    object, unequal to every expected value."""

    __slots__ = ("_target", "_label")

    def __init__(self, target: Any, label: str):
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_label", label)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return wrap(self._target(*unwrap(list(args)), **unwrap(kwargs)), f"{self._label}(...)")
        except SubmissionError as exc:
            raise as_builtin(exc) from None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return wrap(getattr(self._target, name), f"{self._label}.{name}")
        except SubmissionError as exc:
            raise as_builtin(exc) from None

    def __repr__(self) -> str:
        return f"<submission object {self._label}>"


def wrap(value: Any, label: str) -> Any:
    """Plain data as it came (exact types, rebuilt by the protocol); anything else as a SubmissionObject."""
    if type(value) in _PLAIN:
        return value
    if type(value) is list:
        return [wrap(v, label) for v in value]
    if type(value) is tuple:
        return tuple(wrap(v, label) for v in value)
    if type(value) is dict:
        return {k: wrap(v, label) for k, v in value.items()}
    module = type(value).__module__.split(".")[0]
    if module in ("numpy", "torch") and not callable(value):
        return value
    return SubmissionObject(value, label)


def unwrap(value: Any) -> Any:
    if type(value) is SubmissionObject:
        return value._target
    if type(value) in (list, tuple):
        return type(value)(unwrap(v) for v in value)
    if type(value) is dict:
        return {k: unwrap(v) for k, v in value.items()}
    return value


class _Locals(dict):
    """The test cell's top-level namespace. Assigning or deleting one of the submission's names is carried to the
    submission (and recorded, to be undone when the cell ends); everything else stays here."""

    def __init__(self, run: CellRun):
        super().__init__()
        self.run = run

    def __setitem__(self, name: str, value: Any) -> None:
        self.run.carry_assign(name, value)
        self.run.scope[name] = value

    def __delitem__(self, name: str) -> None:
        if name not in self.run.scope:
            raise KeyError(name)
        self.run.carry_delete(name)
        del self.run.scope[name]

    def __getitem__(self, name: str) -> Any:
        return self.run.scope[name]

    def __contains__(self, name: object) -> bool:
        return name in self.run.scope


class CellRun:
    """One test cell against one submission."""

    def __init__(self, submission: Any, cell: TestCell, imports: str):
        self.submission, self.cell = submission, cell
        self.scope: dict[str, Any] = {"__builtins__": builtins, "__name__": "__main__"}
        self.theirs: set[str] = set()       # names the submission defines, fetched into the scope
        self.fetched: dict[str, Any] = {}   # what each was when the cell started
        self.original: dict[str, Any] = {}  # what each carried name was before the cell changed it
        self.touched: list[str] = []
        for line in imports.splitlines():  # one by one: a module only the sandbox has (a helper file next to the
            try:                           # notebook) is then looked up in the submission like any other name
                exec(compile(line, "<imports of the locked cells>", "exec"), self.scope)  # noqa: S102 - trusted
            except Exception:  # noqa: BLE001, S112
                continue

    def fetch(self, tree: ast.AST) -> None:
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - _BUILTIN_NAMES - set(self.scope)
        for name in sorted(names):
            if self.submission.has(name):
                self.theirs.add(name)
                self.scope[name] = self.fetched[name] = wrap(self.submission.reference(name), name)

    def _remember(self, name: str) -> None:
        if name not in self.original:
            self.original[name] = self.scope.get(name, _ABSENT)
            self.touched.append(name)

    def carry_assign(self, name: str, value: Any) -> None:
        """Only what came from the submission goes back to it (nbgrader's ``squares = orig_squares``): a value the
        test cell made itself (``expected = [1, 4, 9]``) stays here, even under a name the student defined, so no
        student function can read it."""
        if name not in self.theirs:
            return
        came_from_them = type(value) is SubmissionObject or any(value is v for v in self.fetched.values())
        if not came_from_them:
            return
        self._remember(name)
        self.submission.assign(name, unwrap(value))

    def carry_delete(self, name: str) -> None:
        if name in self.theirs:
            self._remember(name)
            self.submission.delete(name)

    def restore(self) -> None:
        """Undo what the cell did to the submission's names, so the next test cell starts where this one did."""
        for name in reversed(self.touched):
            before = self.original[name]
            try:
                if before is _ABSENT:
                    self.submission.delete(name)
                else:
                    self.submission.assign(name, unwrap(before))
            except Exception:  # noqa: BLE001, S110 - a name already gone, or a restarted submission
                pass

    def execute(self) -> None:
        tree = ast.parse(self.cell.source, filename=self.cell.test_id)
        self.fetch(tree)
        code = compile(tree, self.cell.test_id, "exec")
        try:
            exec(code, self.scope, _Locals(self))  # noqa: S102 - the instructor's test cell, trusted
        finally:
            self.restore()


class _Absent:
    pass


_ABSENT = _Absent()


def hidden_lines(source: str) -> set[int]:
    """Line numbers (from 1) inside hidden test blocks, markers included."""
    inside, lines = False, set()
    for number, line in enumerate(source.splitlines(), start=1):
        if HIDDEN_BEGIN in line:
            inside = True
        if inside:
            lines.add(number)
        if HIDDEN_END in line:
            inside = False
    return lines


def failure_message(cell: TestCell, exc: BaseException) -> str:
    """What the student reads: the line of the test cell that failed and the error's type; an assertion's own
    message only where the line is public (a hidden test's line and message stay hidden)."""
    line = 0
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == cell.test_id:
            line = tb.tb_lineno
        tb = tb.tb_next
    hidden = line in hidden_lines(cell.source)
    if isinstance(exc, SubmissionError):
        what = str(exc)
    else:
        detail = str(exc) if not hidden and isinstance(exc, AssertionError) else ""
        what = type(exc).__name__ + (f": {detail}" if detail else "")
        if isinstance(exc, NameError) and not hidden:
            what = f"NameError: {exc}"
    if hidden:
        text = _("test cell {cell} failed in a hidden test: {what}", cell=cell.grade_id, what=what)
    elif line:
        text = _("test cell {cell} failed at line {line}: {what}", cell=cell.grade_id, line=line, what=what)
    else:
        text = _("test cell {cell} failed: {what}", cell=cell.grade_id, what=what)
    return " ".join(text.split())[:400]
