"""The graded program: what a top-to-bottom run of the student's notebook in Jupyter executes.

Two exceptions, both on the trusted side: locked cells (public checks, given code, cells with hidden tests) run
from the release's text, and a locked cell the student deleted is put back where the release had it. Nothing
else of the release is ever added: a release stub never runs after the student's code, and an answer cell that
cannot be found is not replaced by its stub. Where finding the student's answer leaves doubt, the program is
still the top-to-bottom one, and the verdict is *needs review* with the reasons in words.

:func:`build_program` is pure and is the only place this is decided: ``autograder grade`` runs its cells in the
sandbox and ``autograder check`` runs the same cells in a Jupyter kernel, so the two always agree.

How a student cell is identified with a release cell, in order:

1. by ``grade_id`` (nbgrader's metadata), when the release has that id and no earlier cell took it;
2. by content: equal, up to trailing whitespace and line endings, to a release cell;
3. an answer cell not found either way (its metadata lost: Colab, VS Code, a fresh notebook; or retyped,
   merged, moved) is found by the top-level names its release stub defines (``count_bigrams``) in the cells
   that run; a stub that defines no names is found by position, as unmatched code between the student cells
   that stand for the locked cells around it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from .languages import CHECKSUM_KEY, code_checksum
from .notebooks import (
    METADATA_KEY,
    SKIP_TAG,
    CodeCell,
    grade_id,
    has_tag,
    is_locked,
    is_public_check,
    is_solution,
    is_trusted_test_cell,
)

if TYPE_CHECKING:
    from nbformat import NotebookNode

Role = Literal["locked", "answer", "free"]
# cell magics whose body IPython runs as ordinary Python in the user namespace
_PYTHON_BODY_MAGICS = {"time", "timeit", "capture"}


# --- reading cells --------------------------------------------------------------------------------------------

def normalised(source: str) -> str:
    """Source compared for identity: line endings unified, trailing whitespace and blank edge lines dropped."""
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def _python_of(source: str) -> ast.Module | None:
    """The cell as a Python syntax tree, IPython syntax translated the way IPython does; None if it is not."""
    try:
        return ast.parse(source)
    except (MemoryError, RecursionError):  # a hostile cell (say 200,000 nested minus signs): no names
        return None
    except (SyntaxError, ValueError):
        pass
    first, _, body = source.lstrip().partition("\n")
    if first.startswith("%%"):
        name = first[2:].split(maxsplit=1)[0] if first[2:].strip() else ""
        return _python_of(body) if name in _PYTHON_BODY_MAGICS else None
    try:
        from IPython.core.inputtransformer2 import TransformerManager  # only for cells plain Python cannot read

        return ast.parse(TransformerManager().transform_cell(source))
    except Exception:  # noqa: BLE001 - any failure means: no names known for this cell
        return None


def _bound(body: Iterable[ast.stmt], found: set[str]) -> set[str]:
    """Names a module-level block binds by ``def``, ``class`` or assignment (imports do not count: two cells
    importing numpy are not two answers)."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                found.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        for block in ("body", "orelse", "finalbody"):
            if isinstance(node, (ast.If, ast.For, ast.While, ast.With, ast.Try)) and hasattr(node, block):
                _bound(getattr(node, block), found)
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                _bound(handler.body, found)
    return found


def defined_names(source: str) -> frozenset[str]:
    """The top-level functions, classes and variables a cell defines."""
    tree = _python_of(source)
    return frozenset(_bound(tree.body, set())) if tree is not None else frozenset()


@dataclass(frozen=True)
class ReleaseCell:
    """A code cell of the release and what it is for."""

    position: int  # among the release's code cells
    grade_id: str | None
    role: Role
    source: str
    text: str  # the source normalised, for comparing
    public_check: bool
    skip: bool
    names: frozenset[str]  # for answers: what the stub defines, the names the student's answer must define
    trusted_check: bool = False  # an nbgrader test cell worth points: run by trusted code, never in the sandbox
    code_checksum: str | None = None  # language-neutral (autograder.languages): comments in any language agree

    @property
    def name(self) -> str:
        return self.grade_id or f"release cell {self.position + 1}"

    def changed_in(self, source: str) -> bool:
        """Whether ``source`` (a student's copy of this locked cell) changed it: its code, when the release
        stored a language-neutral checksum (a translated comment is no change), else any of its text."""
        if normalised(source) == self.text:
            return False
        return self.code_checksum is None or code_checksum(source) != self.code_checksum


@dataclass(frozen=True)
class StudentCell:
    """A code cell of the student's notebook; ``number`` counts every cell from 1, as the student sees them."""

    number: int
    grade_id: str | None
    source: str
    text: str  # the source normalised, for comparing
    skip: bool
    names: frozenset[str]

    @property
    def where(self) -> str:
        return f"cell {self.number}"


def release_cells(release: NotebookNode) -> list[ReleaseCell]:
    cells = []
    for cell in (c for c in release.cells if c.cell_type == "code"):
        role: Role = "answer" if is_solution(cell) else "locked" if is_locked(cell) else "free"
        source = cell.source.replace("\r\n", "\n")
        cells.append(ReleaseCell(len(cells), grade_id(cell), role, source, normalised(source), is_public_check(cell),
                                 has_tag(cell, SKIP_TAG), defined_names(source) if role == "answer" else frozenset(),
                                 is_trusted_test_cell(cell), _stored_checksum(cell)))
    return cells


def _stored_checksum(cell: NotebookNode) -> str | None:
    own = cell.get("metadata", {}).get(METADATA_KEY, {})
    value = own.get(CHECKSUM_KEY) if isinstance(own, dict) else None
    return value if isinstance(value, str) else None


def student_cells(student: NotebookNode) -> list[StudentCell]:
    cells = []
    for number, cell in enumerate(student.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        source = str(cell.get("source", "")).replace("\r\n", "\n").replace("\r", "\n")
        cells.append(StudentCell(number, grade_id(cell), source, normalised(source), has_tag(cell, SKIP_TAG),
                                 defined_names(source)))
    return cells


# --- the program ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProgramCell:
    """One cell of the graded program. ``release_id`` names the release cell it stands for, if any."""

    label: str
    source: str
    from_release: bool  # the text is the release's (a locked cell), not the student's
    release_id: str | None = None
    public_check: bool = False


@dataclass
class Program:
    """What runs, in order, and what a person must know about how it was found.

    ``review``: reasons a person should look before the score counts (needs review). ``tampered``: locked cells
    the student changed or deleted (``"check-add: modified"``), restored in the program. ``matches``: for each
    release cell with a grade id, how it was found (grade_id, content, names, position, restored, unanswered,
    missing).
    """

    cells: list[ProgramCell] = field(default_factory=list)
    review: list[str] = field(default_factory=list)
    tampered: list[str] = field(default_factory=list)
    matches: dict[str, str] = field(default_factory=dict)
    # the student's text of each manually graded part (test id -> answer), for a person to review
    answers: dict[str, str] = field(default_factory=dict)
    lang: str = ""  # the language the student worked in (metadata.autograder.lang): that of their feedback

    def code_cells(self) -> list[CodeCell]:
        """The cells as the sandbox's runner takes them: as written (IPython runs them as Jupyter would)."""
        return [CodeCell(cell.label, cell.source) for cell in self.cells if cell.source.strip()]


def combine(parts: list[tuple[str, Program]]) -> Program:
    """The programs of an assignment's notebooks, in course order; findings name the notebook when there are
    several."""
    if len(parts) == 1:
        return parts[0][1]
    joined = Program(lang=parts[0][1].lang if parts else "")
    for notebook, program in parts:
        joined.cells += program.cells
        joined.review += [f"{notebook}: {reason}" for reason in program.review]
        joined.tampered += [f"{notebook}: {finding}" for finding in program.tampered]
        joined.matches.update({f"{notebook}:{gid}": how for gid, how in program.matches.items()})
    return joined


def _cells_text(cells: list[StudentCell]) -> str:
    where = [c.where for c in cells]
    return " and ".join(where) if len(where) <= 2 else ", ".join(where[:-1]) + " and " + where[-1]


def _code(names: Iterable[str]) -> str:
    return ", ".join(f"`{n}`" for n in sorted(names))


class _Builder:
    """One build: the matching state shared by its steps."""

    def __init__(self, student: list[StudentCell], release: list[ReleaseCell]):
        self.student, self.release = student, release
        self.claimed: dict[int, tuple[StudentCell, str]] = {}     # release position -> (student cell, how)
        self.claim_of: dict[int, ReleaseCell] = {}                 # student number -> release cell
        self.stubs = {r.text for r in release if r.role == "answer"}
        self.answer_names = frozenset().union(*(r.names for r in release if r.role == "answer"))
        self.program = Program()

    def claim(self) -> None:
        """Steps 1 and 2: grade id, then content."""
        by_id = {r.grade_id: r for r in self.release if r.grade_id}
        self.by_text: dict[str, list[ReleaseCell]] = {}
        for r in self.release:
            if r.text:
                self.by_text.setdefault(r.text, []).append(r)
        for cell in self.student:
            target = by_id.get(cell.grade_id) if cell.grade_id else None
            how = "grade_id"
            if target is None or target.position in self.claimed:
                target = next((r for r in self.by_text.get(cell.text, []) if r.position not in self.claimed), None)
                how = "content"
            if target is not None:
                self.claimed[target.position] = (cell, how)
                self.claim_of[cell.number] = target

    def is_stub(self, cell: StudentCell) -> bool:
        return cell.text in self.stubs

    def runs_student_text(self, cell: StudentCell) -> bool:
        target = self.claim_of.get(cell.number)
        if target is not None:
            return target.role != "locked" and not target.skip
        return not cell.skip

    def answer_cells(self, answer: ReleaseCell) -> tuple[list[StudentCell], str]:
        """The student cells holding ``answer``, and how they were found (step 3 where 1 and 2 leave doubt)."""
        holder = self.claimed.get(answer.position)
        same_id = [c for c in self.student if answer.grade_id and c.grade_id == answer.grade_id]
        if holder and holder[1] == "grade_id" and len(same_id) == 1 and not self.is_stub(holder[0]):
            return [holder[0]], "grade_id"  # the answer cell, intact: whatever else runs is the student's program
        defining = [c for c in self.student if c.names & answer.names and not self.is_stub(c)
                    and self.runs_student_text(c)]
        if defining:
            return defining, "names"
        if holder:
            return [holder[0]], "unanswered"
        if not answer.names:
            placed = self.by_position(answer)
            if placed:
                return placed, "position"
        return [], "missing"

    def by_position(self, answer: ReleaseCell) -> list[StudentCell]:
        """Unclaimed code, defining no answer's names, between the student cells standing for the claimed release
        cells around ``answer``."""
        before = [self.claimed[p][0].number for p in range(answer.position) if p in self.claimed]
        after = [self.claimed[p][0].number for p in range(answer.position + 1, len(self.release))
                 if p in self.claimed]
        low, high = max(before, default=0), min(after, default=10**9)
        return [c for c in self.student if low < c.number < high and c.number not in self.claim_of
                and not c.skip and not self.is_stub(c) and not c.names & self.answer_names]

    def judge_answers(self) -> dict[int, int]:
        """Record how each answer was found and every doubt; return release position -> anchoring student cell."""
        anchors = {position: cell.number for position, (cell, _) in self.claimed.items()}
        for answer in (r for r in self.release if r.role == "answer"):
            cells, how = self.answer_cells(answer)
            self.program.matches[answer.name] = how
            if cells:
                anchors[answer.position] = cells[-1].number
            if how == "missing":
                what = (f"no cell of the notebook defines {_code(answer.names)}" if answer.names
                        else "no cell of the notebook stands in its place")
                self.program.review.append(f"answer cell {answer.name} is missing and {what}")
            elif how == "names":
                self.program.review += self.doubts(answer, cells)
        return anchors

    def doubts(self, answer: ReleaseCell, cells: list[StudentCell]) -> list[str]:
        """An answer found by its names is in doubt when a name is defined in more than one cell."""
        found = []
        for name in sorted(answer.names):
            defining = [c for c in cells if name in c.names]
            if len(defining) < 2:
                continue
            if len({c.text for c in defining}) == 1:
                found.append(f"`{name}` (answer cell {answer.name}) is defined only in a cell pasted more than "
                              f"once ({_cells_text(defining)})")
            else:
                found.append(f"`{name}` (answer cell {answer.name}) is defined in different cells "
                              f"({_cells_text(defining)}); the score is that of the last one, which a "
                              "top-to-bottom run uses")
        return found

    def restored(self, anchors: dict[int, int]) -> dict[int, list[ReleaseCell]]:
        """Deleted locked cells, keyed by the student cell they follow (0: the start), in release order."""
        after: dict[int, list[ReleaseCell]] = {}
        for cell in self.release:
            if cell.role != "locked" or cell.position in self.claimed or cell.trusted_check:
                continue  # (a test cell runs from the source on the trusted side, deleted or not)
            self.program.tampered.append(f"{cell.name}: deleted")
            self.program.matches[cell.name] = "restored"
            anchor = max((p for p in anchors if p < cell.position), default=None)
            after.setdefault(anchors[anchor] if anchor is not None else 0, []).append(cell)
        return after

    def assemble(self, restored: dict[int, list[ReleaseCell]]) -> None:
        """The student's cells in their order, locked ones from the release, deleted locked ones put back."""
        defined: set[str] = set()
        self.emit_release(restored.get(0, []), defined)
        for cell in self.student:
            target = self.claim_of.get(cell.number)
            if target is not None and target.grade_id:
                how = self.claimed[target.position][1]
                self.program.matches.setdefault(target.grade_id, how)
            if target is not None and target.role == "locked":
                if target.changed_in(cell.source):
                    self.program.tampered.append(f"{target.name}: modified")
                self.emit_release([target], defined)
            elif self.runs_student_text(cell) and not (self.is_stub(cell) and cell.names & defined):
                # (a stub below the student's own definition would replace it: a stub never does)
                label = target.grade_id if target is not None and target.grade_id else cell.where
                self.program.cells.append(ProgramCell(label, cell.source, False, target.grade_id if target else None))
                defined |= cell.names
            self.emit_release(restored.get(cell.number, []), defined)

    def emit_release(self, cells: list[ReleaseCell], defined: set[str]) -> None:
        for cell in cells:
            if not cell.skip and not cell.trusted_check:  # (test cells never enter the sandbox: testcells.py)
                self.program.cells.append(ProgramCell(cell.name, cell.source, True, cell.grade_id,
                                                      cell.public_check))
                defined |= defined_names(cell.source)


def build_program(student: NotebookNode, release: NotebookNode) -> Program:
    """The graded program of one student notebook against its release (see the module docstring)."""
    builder = _Builder(student_cells(student), release_cells(release))
    builder.claim()
    anchors = builder.judge_answers()
    builder.assemble(builder.restored(anchors))
    order = {r.name: r.position for r in builder.release}
    builder.program.tampered.sort(key=lambda t: order.get(t.rsplit(": ", 1)[0], -1))
    return builder.program


def program_without_release(student: NotebookNode) -> Program:
    """For ``check`` away from the course (no release to compare with): the notebook as it stands, with edits
    to locked cells found by the checksums the release wrote into it: the language-neutral one where present
    (a notebook in any language of the course), else nbgrader's."""
    program = Program()
    for number, cell in enumerate(student.cells, start=1):
        if cell.cell_type != "code":
            continue
        gid = grade_id(cell)
        if gid and is_locked(cell) and _locked_cell_changed(cell):
            program.tampered.append(f"{gid}: modified")
        if not has_tag(cell, SKIP_TAG):
            program.cells.append(ProgramCell(gid or f"cell {number}", cell.source, False, gid,
                                             is_public_check(cell)))
    return program



def _locked_cell_changed(cell: NotebookNode) -> bool:
    """A locked cell's code against the checksum its release stored (neutral, else nbgrader's own)."""
    neutral = _stored_checksum(cell)
    if neutral is not None:
        return code_checksum(cell.source) != neutral
    expected = cell.metadata.get("nbgrader", {}).get("checksum")
    if not expected:
        return False
    from nbgrader.utils import compute_checksum

    return compute_checksum(cell) != expected
