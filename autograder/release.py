"""source/ → release/ (student notebooks) and solutions/ (reference and known-wrong submissions), in every
language of the course: the base language in release/<id>/ and solutions/<id>/, each other language L in
release/<L>/<id>/ and solutions/<L>/<id>/ (the source's translation twins put in, :mod:`autograder.languages`).

The transformation is nbgrader's own `generate_assignment` pipeline, run as a library without its database:
LockCells → ClearSolutions → ClearOutput → CheckCellMetadata → ComputeChecksums → ClearHiddenTests →
ClearMarkScheme → ComputeChecksums → CheckCellMetadata. Everything is computed in memory first, so `--check`
can compare byte for byte and a failed leak check writes nothing.
"""

from __future__ import annotations

import copy
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    ClearSolutions,
    ComputeChecksums,
    LockCells,
)

from . import known_wrong, languages
from .config import Assignment, Course
from .errors import AuthoringError
from .notebooks import METADATA_KEY, grade_id, is_solution, notebook_text, read_notebook
from .testcells import release_problems

IGNORED_NAMES = {".ipynb_checkpoints", "__pycache__", ".DS_Store"}
IGNORED_SUFFIXES = {".pyc"}
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_MARKERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
MARK_SCHEME_MARKERS = ("=== BEGIN MARK SCHEME ===", "=== END MARK SCHEME ===")
ALL_MARKERS = SOLUTION_MARKERS + HIDDEN_MARKERS + MARK_SCHEME_MARKERS
MIN_LEAK_LINE = 4  # shorter lines ("pass", ")") carry no solution


@dataclass
class ReleasePlan:
    """Every file `release` owns for one assignment, with the bytes it should hold."""

    assignment: Assignment
    files: dict[Path, bytes] = field(default_factory=dict)
    owned_dirs: list[Path] = field(default_factory=list)

    def stale(self) -> list[Path]:
        """Files that differ from the plan on disk, plus leftovers in the owned folders."""
        out = [path for path, data in self.files.items() if not path.is_file() or path.read_bytes() != data]
        for folder in self.owned_dirs:
            if folder.is_dir():
                out += [p for p in folder.rglob("*") if p.is_file() and p not in self.files]
        return sorted(out)

    def write(self) -> list[Path]:
        """Write what differs, remove leftovers, and return the paths changed."""
        changed = self.stale()
        for path in changed:
            if path in self.files:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(path.name + ".tmp")
                tmp.write_bytes(self.files[path])
                tmp.replace(path)
            else:
                path.unlink()
        return changed


# --- the two notebooks ---------------------------------------------------------------------------

def _run(nb: NotebookNode, *preprocessors) -> NotebookNode:
    resources: dict = {}
    for preprocessor in preprocessors:
        nb, resources = preprocessor.preprocess(nb, resources)
    return nb


def student_notebook(source: NotebookNode, assignment_id: str, name: str, lang: str = "en") -> NotebookNode:
    """The released notebook: stubs for answers, no hidden tests, no outputs, locked cells, checksums (nbgrader's,
    and the language-neutral ones the grader compares), and the language it is in."""
    nb = _run(
        copy.deepcopy(source),
        LockCells(), ClearSolutions(), ClearOutput(), CheckCellMetadata(), ComputeChecksums(),
        ClearHiddenTests(), ClearMarkScheme(), ComputeChecksums(), CheckCellMetadata(),
    )
    nb.metadata[METADATA_KEY] = {"assignment": assignment_id, "notebook": name}
    return languages.stamp(nb, lang)


def strip_markers(text: str, markers: tuple[str, str] = SOLUTION_MARKERS) -> str:
    """The solution as a student would write it: the marker lines removed, the rest untouched."""
    return "\n".join(line for line in text.splitlines() if not any(m in line for m in markers))


def reference_notebook(source: NotebookNode, student: NotebookNode) -> NotebookNode:
    """The released notebook with every answer cell filled in with the solution: a perfect hand-in."""
    answers = {grade_id(c): c.source for c in source.cells if is_solution(c)}
    nb = copy.deepcopy(student)
    for cell in nb.cells:
        if is_solution(cell):
            cell.source = strip_markers(answers[grade_id(cell)])
    return nb


# --- leak check ----------------------------------------------------------------------------------

def _split_regions(text: str, markers: tuple[str, str]) -> tuple[list[str], list[str]]:
    """(lines outside, lines inside) the marked regions of one cell."""
    outside, inside, in_region = [], [], False
    for line in text.splitlines():
        if markers[0] in line:
            in_region = True
        elif markers[1] in line:
            in_region = False
        else:
            (inside if in_region else outside).append(line)
    return outside, inside


def secret_lines(source: NotebookNode, hidden_test_files: list[Path]) -> set[str]:
    """Lines of solutions and hidden tests that appear nowhere in the public text of the source."""
    public: set[str] = set()
    secret: set[str] = set()
    for cell in source.cells:
        text = cell.source
        if is_solution(cell) and SOLUTION_MARKERS[0] not in text:
            secret.update(text.splitlines())  # a solution cell without markers is replaced entirely
            continue
        outside = text.splitlines()
        for markers in (SOLUTION_MARKERS, HIDDEN_MARKERS, MARK_SCHEME_MARKERS):
            kept, hidden = _split_regions("\n".join(outside), markers)
            outside = kept
            secret.update(hidden)
        public.update(line.strip() for line in outside)
    for path in hidden_test_files:
        secret.update(path.read_text(encoding="utf-8").splitlines())
    return {s for line in secret if len(s := line.strip()) >= MIN_LEAK_LINE and s not in public}


def find_leaks(files: dict[Path, bytes], secrets: set[str]) -> list[str]:
    """Human-readable findings: a marker or a secret line inside a file about to be released."""
    findings = []
    for path, data in files.items():
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if path.suffix == ".ipynb":
            nb = nbformat.reads(text, as_version=4)
            text = "\n".join(cell.source for cell in nb.cells)
        for marker in ALL_MARKERS:
            if marker in text:
                findings.append(f"{path}: contains the marker {marker!r}")
        leaked = sorted({line.strip() for line in text.splitlines()} & secrets)
        if leaked:
            findings.append(f"{path}: contains {len(leaked)} solution/hidden-test line(s), e.g. {leaked[0]!r}")
    return findings


# --- planning ------------------------------------------------------------------------------------

def _public_files(source_dir: Path, notebooks: list[str]) -> list[Path]:
    files = []
    for path in sorted(source_dir.rglob("*")):
        rel = path.relative_to(source_dir)
        if not path.is_file() or rel.as_posix() in notebooks:
            continue
        if IGNORED_NAMES & set(rel.parts) or path.suffix in IGNORED_SUFFIXES:
            continue
        files.append(rel)
    return files


def _language_notebooks(course: Course, assignment: Assignment, lang: str, sources: dict[str, NotebookNode],
                        plan: ReleasePlan) -> tuple[dict[Path, bytes], dict[str, NotebookNode]]:
    """One language's student notebooks (returned, for the leak check) and reference notebooks (into ``plan``)."""
    source_dir = course.source_dir(assignment)
    released: dict[Path, bytes] = {}
    references: dict[str, NotebookNode] = {}
    for name, source in sources.items():
        text = languages.localized(source, lang, source_dir / name, course.languages)
        try:
            student = student_notebook(text, assignment.id, name, lang)
        except Exception as exc:  # nbgrader raises RuntimeError / ValidationError on bad markers or metadata
            where = "" if lang == course.base_language else f" (the {lang} release)"
            raise AuthoringError(f"nbgrader rejected the notebook{where}: {exc}", source_dir / name) from None
        references[name] = reference_notebook(text, student)
        released[course.release_dir(assignment, lang) / name] = notebook_text(student).encode()
        plan.files[course.solutions_dir(assignment, lang) / name] = notebook_text(references[name]).encode()
    for rel in _public_files(source_dir, assignment.notebooks):
        released[course.release_dir(assignment, lang) / rel] = (source_dir / rel).read_bytes()
    return released, references


def plan_release(course: Course, assignment: Assignment) -> ReleasePlan:
    """Compute every released and reference file for ``assignment``, in every language of the course; raise on
    leaks, malformed translation twins or bad authoring."""
    source_dir = course.source_dir(assignment)
    owned = [f(assignment, lang) for lang in course.languages for f in (course.release_dir, course.solutions_dir)]
    plan = ReleasePlan(assignment, owned_dirs=owned)
    hidden_dir = course.hidden_tests_dir(assignment)
    hidden_files = sorted(hidden_dir.rglob("*.py")) if hidden_dir.is_dir() else []
    sources: dict[str, NotebookNode] = {}
    secrets: set[str] = set()
    for name in assignment.notebooks:
        source = sources[name] = read_notebook(source_dir / name)
        problems = release_problems(name, source)
        if problems:
            raise AuthoringError("test cells the trusted grader cannot run: " + "; ".join(problems), source_dir / name)
        # every language's solutions and hidden tests are secret, in every language's release
        secrets |= secret_lines(languages.with_base_metadata(source, source_dir / name, course.languages),
                                hidden_files)
    released: dict[Path, bytes] = {}
    base_references: dict[str, NotebookNode] = {}
    for lang in course.languages:
        files, references = _language_notebooks(course, assignment, lang, sources, plan)
        released.update(files)
        if lang == course.base_language:
            base_references = references
    leaks = find_leaks(released, secrets)
    if leaks:
        raise AuthoringError("release blocked, it would leak: " + "; ".join(leaks), source_dir)
    plan.files.update(released)
    solutions_dir = course.solutions_dir(assignment)
    for spec in known_wrong.load_specs(hidden_dir / "wrong", assignment):
        wrong = known_wrong.apply(spec, base_references)
        plan.files[solutions_dir / "wrong" / f"{spec.name}.ipynb"] = notebook_text(wrong).encode()
    return plan


def release(course: Course, ids: list[str] | None = None) -> dict[str, list[Path]]:
    """Write release/ and solutions/ for the given assignments; return the changed paths per assignment."""
    plans = [plan_release(course, a) for a in course.select(ids)]  # all plans first: fail before writing
    return {plan.assignment.id: plan.write() for plan in plans}


def check_release(course: Course, ids: list[str] | None = None) -> list[Path]:
    """Paths that are out of date with source/ (empty when release/ and solutions/ are current)."""
    return [path for a in course.select(ids) for path in plan_release(course, a).stale()]


def clean(course: Course, assignment: Assignment) -> None:
    """Remove generated folders (used by tests)."""
    for lang in course.languages:
        for folder in (course.release_dir(assignment, lang), course.solutions_dir(assignment, lang)):
            shutil.rmtree(folder, ignore_errors=True)
