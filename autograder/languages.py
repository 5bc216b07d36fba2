"""One master notebook, several languages: translation twins, language-neutral code, and the parity check.

A source notebook is written in the course's base language (the first of ``languages`` in course.yml). A
translation of a cell is a *twin*: a cell of the same type placed right after its base cell (or after another
twin of it), tagged ``lang:<code>``, without nbgrader metadata. A code twin may differ from its base cell only in
comments and docstrings, so one set of hidden checks grades every language: the *language-neutral* code (the
syntax tree without docstrings; comments never reach it) must be the same. docs/authoring.md, "Bilingual
notebooks", is the author's guide.

This module is imported by grading processes (for :func:`code_checksum`): nbformat and copy are imported lazily.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import AuthoringError
from .notebooks import METADATA_KEY, grade_id, has_tag, is_locked, points

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from .config import Assignment, Course

TAG_PREFIX = "lang:"
CHECKSUM_KEY = "code_checksum"  # cell metadata, under METADATA_KEY: md5 of the language-neutral code
LANG_KEY = "lang"  # notebook metadata, under METADATA_KEY: the language a released notebook is in
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS",
           "=== BEGIN MARK SCHEME ===", "=== END MARK SCHEME ===")


# --- language-neutral code ------------------------------------------------------------------------------------

def _parse(source: str) -> ast.Module | None:
    """The cell as Python, IPython syntax (``%matplotlib inline``, ``!ls``) translated the way IPython does."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        pass
    except (MemoryError, RecursionError):
        return None
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return ast.parse(TransformerManager().transform_cell(source))
    except Exception:  # noqa: BLE001 - not Python in any form: compared as text
        return None


def _without_docstrings(tree: ast.Module) -> ast.Module:
    """The tree minus the docstring of the module and of every function and class (comments are never in it)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def neutral_code(source: str) -> str:
    """What every language's version of a code cell shares: ``ast.dump`` of the tree without docstrings; a cell
    that is not Python (a ``%%bash`` cell) is its text, line endings and trailing spaces normalised."""
    tree = _parse(source)
    if tree is not None:
        try:
            return ast.dump(_without_docstrings(tree))
        except RecursionError:  # a hostile cell nested too deep to walk: compared as text
            pass
    return "\n".join(line.rstrip() for line in source.replace("\r\n", "\n").split("\n")).strip("\n")


def code_checksum(source: str) -> str:
    """md5 of the language-neutral code: equal in every language, changed by any change to the code itself."""
    return hashlib.md5(neutral_code(source).encode(), usedforsecurity=False).hexdigest()


def readable_code(source: str) -> list[str]:
    """The neutral code as lines a person can read (for naming the first difference between two cells)."""
    tree = _parse(source)
    return ast.unparse(_without_docstrings(tree)).splitlines() if tree is not None else source.splitlines()


def first_difference(base: str, twin: str) -> str:
    """One phrase: the first line where two cells' code (comments and docstrings aside) differ."""
    a, b = readable_code(base), readable_code(twin)
    for tag, i1, _, j1, _ in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag != "equal":
            left = a[i1].strip() if i1 < len(a) else "(nothing)"
            right = b[j1].strip() if j1 < len(b) else "(nothing)"
            return f"the base has `{left}` where the twin has `{right}`"
    return "they differ in magics or shell lines"


def marker_lines(source: str) -> list[str]:
    return [line.strip() for line in source.splitlines() if any(m in line for m in MARKERS)]


# --- twins ----------------------------------------------------------------------------------------------------

def twin_language(cell: NotebookNode) -> str | None:
    """``ko`` for a cell tagged ``lang:ko``; None for a base cell."""
    tags = cell.get("metadata", {}).get("tags", [])
    found = [t[len(TAG_PREFIX):] for t in tags if isinstance(t, str) and t.startswith(TAG_PREFIX)] \
        if isinstance(tags, list) else []
    return found[0] if found else None


@dataclass
class Group:
    """A base cell and its translations, by language."""

    index: int  # of the base cell in the source notebook
    base: NotebookNode
    twins: dict[str, NotebookNode] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"cell {grade_id(self.base)}" if grade_id(self.base) else f"cell {self.index + 1}"


def _twin_problem(group: Group, twin: NotebookNode, lang: str) -> str | None:
    base = group.base
    if twin.get("metadata", {}).get("nbgrader"):
        return f"its {lang} twin carries nbgrader metadata (only the base cell may; remove it from the twin)"
    if twin.cell_type != base.cell_type:
        return f"its {lang} twin is a {twin.cell_type} cell, the base cell a {base.cell_type} cell"
    if base.cell_type != "code":
        return None
    if marker_lines(twin.source) != marker_lines(base.source):
        return f"its {lang} twin does not have the base cell's solution/hidden-test markers, in the same order"
    if neutral_code(twin.source) != neutral_code(base.source):
        return (f"its {lang} twin differs in code, not only in comments and docstrings: "
                f"{first_difference(base.source, twin.source)}")
    return None


def twin_groups(nb: NotebookNode, path: Path, languages: list[str]) -> list[Group]:
    """The notebook's cells grouped with their twins; a malformed twin is an :class:`AuthoringError` naming the
    notebook and the cell."""
    groups: list[Group] = []
    for index, cell in enumerate(nb.cells):
        lang = twin_language(cell)
        if lang is None:
            groups.append(Group(index, cell))
            continue
        where = f"cell {index + 1} (tagged {TAG_PREFIX}{lang})"
        if lang not in languages[1:]:
            known = ", ".join(languages[1:]) or "none: course.yml lists only " + languages[0]
            raise AuthoringError(f"{where} is a twin in a language course.yml does not translate into "
                                 f"(translations: {known})", path)
        if not groups:  # (every cell before a twin is its base cell or another accepted twin of that base)
            raise AuthoringError(f"{where} has no base cell right before it (a twin follows its base cell)", path)
        group = groups[-1]
        if lang in group.twins:
            raise AuthoringError(f"{group.name} has two {lang} twins (cell {index + 1} is the second)", path)
        problem = _twin_problem(group, cell, lang)
        if problem:
            raise AuthoringError(f"{group.name}: {problem}", path)
        group.twins[lang] = cell
    return groups


def localized(nb: NotebookNode, lang: str, path: Path, languages: list[str]) -> NotebookNode:
    """The source notebook in one language: each base cell's text replaced by its twin's where there is one,
    the twins themselves removed. Metadata (nbgrader's included) is always the base cell's."""
    import copy

    out = copy.deepcopy(nb)
    out.cells = []
    for group in twin_groups(nb, path, languages):
        cell = copy.deepcopy(group.base)
        twin = group.twins.get(lang)
        if twin is not None:
            cell.source = twin.source
            if "attachments" in twin:
                cell.attachments = copy.deepcopy(twin.attachments)
        out.cells.append(cell)
    return out


def with_base_metadata(nb: NotebookNode, path: Path, languages: list[str]) -> NotebookNode:
    """The source with each twin given its base cell's nbgrader metadata: what the leak check reads, so a twin of
    an answer cell is as secret as its base."""
    import copy

    out = copy.deepcopy(nb)
    groups = twin_groups(out, path, languages)
    for group in groups:
        for twin in group.twins.values():
            if "nbgrader" in group.base.metadata:
                twin.metadata["nbgrader"] = copy.deepcopy(group.base.metadata["nbgrader"])
    return out


def stamp(nb: NotebookNode, lang: str) -> NotebookNode:
    """Record the language and, on each locked code cell with a grade id, the language-neutral checksum."""
    nb.metadata.setdefault(METADATA_KEY, {})[LANG_KEY] = lang
    for cell in nb.cells:
        if cell.cell_type == "code" and grade_id(cell) and is_locked(cell):
            own = cell.metadata.get(METADATA_KEY)
            cell.metadata[METADATA_KEY] = {**(own if isinstance(own, dict) else {}),
                                           CHECKSUM_KEY: code_checksum(cell.source)}
    return nb


def language_of(nb: NotebookNode, languages: list[str]) -> str:
    """The language a student's notebook was released in (``metadata.autograder.lang``); the base language when
    it is absent or not one the course has."""
    own = nb.get("metadata", {}).get(METADATA_KEY, {})
    lang = own.get(LANG_KEY) if isinstance(own, dict) else None
    return lang if isinstance(lang, str) and lang in languages else languages[0]


# --- parity ---------------------------------------------------------------------------------------------------

def _signature(nb: NotebookNode) -> list[tuple]:
    """Per cell: type, grade id, points, and for code its neutral checksum (and the stored one, if any)."""
    rows = []
    for cell in nb.cells:
        stored = cell.get("metadata", {}).get(METADATA_KEY, {}).get(CHECKSUM_KEY)
        code = code_checksum(cell.source) if cell.cell_type == "code" else None
        rows.append((cell.cell_type, grade_id(cell), points(cell), code, stored, has_tag(cell, "skip-grading")))
    return rows


def parity_problems(course: Course, assignment: Assignment) -> list[str]:
    """What differs between the base release of ``assignment`` and each other language's, in code cells, grade
    ids, points and neutral checksums (release and solutions alike); empty when they are in step."""
    from .notebooks import read_notebook

    problems = []
    for lang in course.languages[1:]:
        for kind, folder in (("release", course.release_dir), ("solutions", course.solutions_dir)):
            for name in assignment.notebooks:
                base_path, other_path = folder(assignment) / name, folder(assignment, lang) / name
                if not other_path.is_file():
                    problems.append(f"{lang}: {other_path} is missing (run `autograder release`)")
                    continue
                base, other = read_notebook(base_path), read_notebook(other_path)
                if language_of(other, course.languages) != lang:
                    problems.append(f"{lang}: {kind}/{name} does not record its language ({lang})")
                for index, (a, b) in enumerate(zip(_signature(base), _signature(other), strict=False)):
                    if a != b:
                        problems.append(f"{lang}: {kind}/{name} cell {index + 1} ({a[1] or a[0]}) differs from "
                                        f"the {course.base_language} release in code, grade id, points or checksum")
                        break
                if len(base.cells) != len(other.cells):
                    problems.append(f"{lang}: {kind}/{name} has {len(other.cells)} cells, the "
                                    f"{course.base_language} release {len(base.cells)}")
    return problems
