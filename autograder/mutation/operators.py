"""Single-change mutants of answer code, made on the concrete syntax tree (libcst).

libcst keeps comments and layout, so a mutant differs from the reference in exactly the one node that was
changed and its diff reads like a student's one-line bug. Each mutant has a stable id: a hash of the enclosing
function, the operator, the position relative to the function's ``def`` line, and the code replaced and
replacing, so edits elsewhere in a cell leave the ids (the equivalent list, the result cache) valid.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

# Operator swaps: each maps to the one plausible slip a student makes with it.
ARITH = {"Add": "Subtract", "Subtract": "Add", "Multiply": "Divide", "Divide": "Multiply",
         "FloorDivide": "Divide", "Modulo": "FloorDivide", "Power": "Multiply", "MatrixMultiply": "Multiply"}
AUG = {f"{k}Assign": f"{v}Assign" for k, v in ARITH.items()}
COMPARE = {"LessThan": "LessThanEqual", "LessThanEqual": "LessThan", "GreaterThan": "GreaterThanEqual",
           "GreaterThanEqual": "GreaterThan", "Equal": "NotEqual", "NotEqual": "Equal", "In": "NotIn",
           "NotIn": "In", "Is": "IsNot", "IsNot": "Is"}
# Calls whose integer positional arguments are dimensions (changed by the `dim` operator).
DIM_CALLS = {"sum", "mean", "softmax", "log_softmax", "cat", "stack", "concatenate", "argmax", "argmin", "max",
             "min", "cumsum", "unsqueeze", "squeeze", "transpose", "flatten", "norm", "var", "std", "logsumexp",
             "split", "chunk", "prod", "argsort", "sort", "flip", "roll", "size", "swapaxes", "movedim"}
# Tensor methods with an in-place twin (``x.add(y)`` / ``x.add_(y)``).
INPLACE = {"add", "sub", "mul", "div", "clamp", "clamp_min", "clamp_max", "exp", "log", "neg", "abs", "sqrt",
           "pow", "tanh", "sigmoid", "relu", "masked_fill", "fill", "zero", "unsqueeze", "squeeze", "transpose",
           "t", "addmm", "addcmul", "lerp", "copy", "normal", "uniform"}
# Names whose attributes are functions, not methods of a value: ``np.exp(x)`` is replaced by ``x``, not ``np``.
MODULES = {"np", "numpy", "torch", "F", "nn", "math", "re", "random", "scipy", "self", "string", "itertools",
           "functools", "collections", "os", "json", "cls"}
OPERATORS = ("arith", "compare", "constant", "slice", "dim", "delete", "args", "call", "inplace")
_ATOMS = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.Integer, cst.Float, cst.SimpleString,
          cst.List, cst.Tuple, cst.Dict, cst.Set, cst.ListComp, cst.GeneratorExp, cst.DictComp, cst.SetComp)
_ADDITIVE_SAFE = (*_ATOMS, cst.UnaryOperation)


@dataclass(frozen=True)
class Mutant:
    """One changed copy of an answer cell."""

    id: str
    notebook: str
    cell: str          # the answer cell's grade_id
    function: str      # the enclosing function (``Class.method``), or ``<cell grade_id>`` for top-level code
    operator: str      # one of OPERATORS
    line: int          # line in the cell, 1-based
    original: str      # the code replaced
    replacement: str   # the code replacing it
    source: str        # the whole mutated cell

    @property
    def description(self) -> str:
        """One line for tables: ``line 7, arith: `a + b` -> `a - b```."""
        return f"line {self.line}, {self.operator}: `{_short(self.original)}` -> `{_short(self.replacement)}`"


def _short(code: str, width: int = 70) -> str:
    flat = " ".join(code.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def _number(value: int | float) -> cst.BaseExpression:
    """A literal for ``value``; negative ones as a unary minus, as Python spells them."""
    literal = cst.Integer(str(abs(value))) if isinstance(value, int) else cst.Float(repr(abs(value)))
    return cst.UnaryOperation(cst.Minus(), literal) if value < 0 else literal


def _literal(node: cst.BaseExpression) -> int | float | None:
    """The value of an int/float literal (``3``, ``-1``, ``1e-9``), else None."""
    if isinstance(node, cst.Integer | cst.Float):
        return ast.literal_eval(node.value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = _literal(node.expression)
        return -inner if inner is not None else None
    return None


def _paren(node: cst.BaseExpression, safe: tuple[type, ...] = _ATOMS) -> cst.BaseExpression:
    if isinstance(node, safe) or node.lpar:
        return node
    return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def _shifted(node: cst.BaseExpression, delta: int) -> cst.BaseExpression:
    """``node`` plus ``delta``: a literal is recomputed, anything else gets ``+ 1`` / ``- 1``."""
    value = _literal(node)
    if value is not None:
        return _number(value + delta)
    op = cst.Add() if delta > 0 else cst.Subtract()
    return cst.BinaryOperation(_paren(node, _ADDITIVE_SAFE), op, cst.Integer(str(abs(delta))))


def _same_op(old: cst.CSTNode, name: str) -> cst.CSTNode:
    """The operator class ``name`` with ``old``'s whitespace, so only the symbol changes in the diff."""
    cls = getattr(cst, name)
    fields = {f: getattr(old, f) for f in ("whitespace_before", "whitespace_after", "whitespace_between")
              if hasattr(old, f)}
    if name in ("NotIn", "IsNot") and "whitespace_between" not in fields:
        fields["whitespace_between"] = cst.SimpleWhitespace(" ")
    if name not in ("NotIn", "IsNot"):
        fields.pop("whitespace_between", None)
    return cls(**fields)


def _callee(call: cst.Call) -> str:
    func = call.func
    return func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""


def _root(node: cst.BaseExpression) -> str:
    while isinstance(node, cst.Attribute):
        node = node.value
    return node.value if isinstance(node, cst.Name) else ""


def _dropped(call: cst.Call, arg: cst.Arg) -> cst.Call:
    """``call`` without ``arg``; the new last argument takes the dropped one's (absent) trailing comma."""
    args = [a for a in call.args if a is not arg]
    if args and arg is call.args[-1]:
        args[-1] = args[-1].with_changes(comma=arg.comma)
    return call.with_changes(args=args)


def _is_docstring(line: cst.SimpleStatementLine) -> bool:
    return (len(line.body) == 1 and isinstance(line.body[0], cst.Expr)
            and isinstance(line.body[0].value, cst.SimpleString | cst.ConcatenatedString))


class _Collector(cst.CSTVisitor):
    """Walks one cell and records (node, replacement, operator, function, def line) for every mutation site."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, cell: str):
        self.cell = cell
        self.scope: list[tuple[str, int]] = []
        self.found: list[tuple[cst.CSTNode, cst.CSTNode, str, str, int]] = []

    def _add(self, node: cst.CSTNode, new: cst.CSTNode, operator: str) -> None:
        names = [n for n, _ in self.scope]
        function = ".".join(names) if names else f"<{self.cell}>"
        start = self.scope[-1][1] if self.scope else 1
        self.found.append((node, new, operator, function, start))

    def _enter(self, node: cst.FunctionDef | cst.ClassDef) -> None:
        self.scope.append((node.name.value, self.get_metadata(PositionProvider, node).start.line))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._enter(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.scope.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._enter(node)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.scope.pop()

    # --- arith and compare ----------------------------------------------------------------------------------
    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        name = type(node.operator).__name__
        if name in ARITH:
            self._add(node, node.with_changes(operator=_same_op(node.operator, ARITH[name])), "arith")

    def visit_Comparison(self, node: cst.Comparison) -> None:
        for i, target in enumerate(node.comparisons):
            name = type(target.operator).__name__
            if name in COMPARE:
                new_target = target.with_changes(operator=_same_op(target.operator, COMPARE[name]))
                targets = [*node.comparisons[:i], new_target, *node.comparisons[i + 1:]]
                self._add(node, node.with_changes(comparisons=targets), "compare")

    # --- constants, slices, dims --------------------------------------------------------------------------
    def visit_Integer(self, node: cst.Integer) -> None:
        self._constant(node)

    def visit_Float(self, node: cst.Float) -> None:
        self._constant(node)

    def _constant(self, node: cst.Integer | cst.Float) -> None:
        value = ast.literal_eval(node.value)
        for delta in (1, -1):
            self._add(node, _number(value + delta), "constant")

    def visit_Slice(self, node: cst.Slice) -> None:
        for part in ("lower", "upper"):
            bound = getattr(node, part)
            if bound is not None:
                for delta in (1, -1):
                    self._add(node, node.with_changes(**{part: _shifted(bound, delta)}), "slice")

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None and node.keyword.value in ("dim", "axis") and _literal(node.value) is not None:
            for delta in (1, -1):
                self._add(node, node.with_changes(value=_shifted(node.value, delta)), "dim")

    # --- calls: dims given positionally, arguments swapped or dropped, a call replaced by its argument ------
    def visit_Call(self, node: cst.Call) -> None:
        name = _callee(node)
        positional = [a for a in node.args if a.keyword is None and not a.star]
        if name in DIM_CALLS:
            for arg in positional:
                if isinstance(arg.value, cst.Integer) or _literal(arg.value) is not None:
                    for delta in (1, -1):
                        self._add(arg, arg.with_changes(value=_shifted(arg.value, delta)), "dim")
        self._args(node, positional)
        if isinstance(node.func, cst.Attribute) and _root(node.func) not in MODULES:
            self._add(node, node.func.value, "call")  # a method: ``x.clone()`` -> ``x``, ``t.sum(0)`` -> ``t``
        elif positional:  # a function: ``np.asarray(x)`` -> ``x``, ``self.norm(h)`` -> ``h``
            self._add(node, _paren(positional[0].value), "call")
        self._inplace_call(node, name)

    def _args(self, node: cst.Call, positional: list[cst.Arg]) -> None:
        for i in range(len(positional) - 1):
            a, b = positional[i], positional[i + 1]
            swap = {id(a): a.with_changes(value=b.value), id(b): b.with_changes(value=a.value)}
            self._add(node, node.with_changes(args=[swap.get(id(x), x) for x in node.args]), "args")
        for arg in node.args:
            if not arg.star:
                self._add(node, _dropped(node, arg), "args")

    def _inplace_call(self, node: cst.Call, name: str) -> None:
        if not isinstance(node.func, cst.Attribute):
            return
        if name in INPLACE:
            twin = f"{name}_"
        elif name.endswith("_") and name[:-1] in INPLACE:
            twin = name[:-1]
        else:
            return
        self._add(node, node.with_changes(func=node.func.with_changes(attr=cst.Name(twin))), "inplace")

    # --- statements: deleted, and assignments turned in place (or back) ---------------------------------------
    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        body = node.body
        if _is_docstring(node) or all(isinstance(s, cst.Pass | cst.Import | cst.ImportFrom) for s in body):
            return
        self._add(node, node.with_changes(body=[cst.Pass()]), "delete")

    def visit_Assign(self, node: cst.Assign) -> None:
        value = node.value
        if len(node.targets) != 1 or not isinstance(value, cst.BinaryOperation):
            return
        target = node.targets[0].target
        name = f"{type(value.operator).__name__}Assign"
        if name in AUG and cst.Module([]).code_for_node(target) == cst.Module([]).code_for_node(value.left):
            new = cst.AugAssign(target=target, operator=getattr(cst, name)(), value=value.right)
            self._add(node, new, "inplace")

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        name = type(node.operator).__name__.removesuffix("Assign")
        if not hasattr(cst, name):
            return
        right = _paren(node.value, _ATOMS + (cst.UnaryOperation,))
        new = cst.Assign(targets=[cst.AssignTarget(node.target)],
                         value=cst.BinaryOperation(_paren(node.target), getattr(cst, name)(), right))
        self._add(node, new, "inplace")
        old = type(node.operator).__name__
        if old in AUG:
            self._add(node, node.with_changes(operator=_same_op(node.operator, AUG[old])), "arith")


def stable_id(notebook: str, function: str, operator: str, where: str, original: str, replacement: str) -> str:
    """A short hash that survives edits elsewhere in the notebook (see the module docstring)."""
    key = "\x1f".join((notebook, function, operator, where, original, replacement))
    return hashlib.sha256(key.encode()).hexdigest()[:10]


def cell_mutants(source: str, *, notebook: str, cell: str) -> Iterator[Mutant]:
    """Every single-change mutant of one answer cell, each distinct and compilable, in source order.

    A cell libcst cannot parse (IPython magics) has none.
    """
    try:
        wrapper = MetadataWrapper(cst.parse_module(source))
    except cst.ParserSyntaxError:
        return
    collector = _Collector(cell)
    wrapper.visit(collector)
    module = wrapper.module
    positions = wrapper.resolve(PositionProvider)
    seen = {source}
    for node, new, operator, function, start in collector.found:
        mutated = module.deep_replace(node, new).code
        if mutated in seen:  # the same change reached through two operators: keep the first
            continue
        seen.add(mutated)
        try:
            compile(mutated, f"<{cell}>", "exec")
        except SyntaxError:
            continue
        pos = positions[node].start
        original, replacement = module.code_for_node(node), module.code_for_node(new)
        where = f"{pos.line - start}:{pos.column}"
        yield Mutant(stable_id(notebook, function, operator, where, original, replacement), notebook, cell,
                     function, operator, pos.line, original, replacement, mutated)
