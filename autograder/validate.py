"""`autograder validate`: the reference earns full marks (in every language of the course), the blank release
earns nothing, each known-wrong submission loses exactly the points of the checks it declares, and every
language's release is in step with the base one (code, grade ids, points, checksums)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .config import Assignment, Course
from .engine import run_notebooks
from .errors import UserError
from .harness import CheckRun, run_checks_inprocess, submission_program
from .known_wrong import declared_failures
from .notebooks import read_notebook


@dataclass
class Verdict:
    """One submission of the validation set: what it should score and what it did."""

    assignment: str
    kind: str  # reference | reference:<lang> | blank | wrong:<name> | parity:<lang>
    expected: float
    got: float
    max_score: float
    problems: list[str]
    pending: float = 0.0  # points of manually graded parts (nbgrader answers and tasks): never autograded

    @property
    def ok(self) -> bool:
        return not self.problems


def _matches(test_name: str, test_id: str, declared: str) -> bool:
    return declared in (test_name, test_id, test_id.split("::")[-1])


def judge(kind: str, run: CheckRun, assignment: Assignment, declared: list[str] | None = None,
          review: list[str] | None = None) -> Verdict:
    """``review``: why grading would mark this submission needs review; none of the validation set may be."""
    problems = list(run.problems) + [f"would need review: {reason}" for reason in review or []]
    if not run.tests and not problems:
        problems.append("no hidden checks were found")
    pending = sum(t.points for t in run.pending())
    if kind.split(":")[0] == "reference":  # reference, reference:ko
        expected = run.max_score - pending
        problems += [f"{t.name} fails: {t.message}" for t in run.failed()]
        problems += [f"cell {e['cell']} raised {e['error_type']}" for e in run.cell_errors]
    elif kind == "blank":
        expected = 0.0
        problems += [f"{t.name} passes on the blank notebook" for t in run.tests if t.passed]
    else:
        declared = declared or []
        unknown = [d for d in declared if not any(_matches(t.name, t.test_id, d) for t in run.tests)]
        problems += [f"declares unknown check {d}" for d in unknown]
        should_fail = [t for t in run.tests if any(_matches(t.name, t.test_id, d) for d in declared)]
        expected = run.max_score - pending - sum(t.points for t in should_fail)
        problems += [f"{t.name} passes but is declared to fail" for t in should_fail if t.passed]
        problems += [f"{t.name} fails but is not declared: {t.message}"
                     for t in run.failed() if t not in should_fail]
    return Verdict(assignment.id, kind, expected, run.score, run.max_score, problems, pending)


def validation_set(course: Course, assignment: Assignment) -> list[tuple[str, list[Path], list[str] | None]]:
    """(kind, notebooks, declared failures) for the reference, the blank release and each known-wrong one."""
    reference = [course.solutions_dir(assignment) / n for n in assignment.notebooks]
    blank = [course.release_dir(assignment) / n for n in assignment.notebooks]
    for path in reference + blank:
        if not path.is_file():
            raise UserError(f"missing; run `autograder release {assignment.id}` first", path)
    items: list[tuple[str, list[Path], list[str] | None]] = [("reference", reference, None),
                                                            ("blank", blank, None)]
    items += _translated_references(course, assignment, reference)
    for path in sorted((course.solutions_dir(assignment) / "wrong").glob("*.ipynb")):
        nb = read_notebook(path)
        name = nb.metadata.get("autograder", {}).get("notebook", assignment.notebooks[0])
        notebooks = [path if n == name else ref for n, ref in zip(assignment.notebooks, reference, strict=True)]
        items.append((f"wrong:{path.stem}", notebooks, declared_failures(nb)))
    return items


def _translated_references(course: Course, assignment: Assignment, base: list[Path]
                            ) -> list[tuple[str, list[Path], list[str] | None]]:
    """Each other language's reference (``reference:ko``), to earn full marks like the base one. One whose code
    cells are the base reference's, byte for byte (no twins yet), is the same program: it is not graded again."""
    items: list[tuple[str, list[Path], list[str] | None]] = []
    for lang in course.languages[1:]:
        paths = [course.solutions_dir(assignment, lang) / n for n in assignment.notebooks]
        for path in paths:
            if not path.is_file():
                raise UserError(f"missing; run `autograder release {assignment.id}` first", path)
        if any(_code_of(p) != _code_of(b) for p, b in zip(paths, base, strict=True)):
            items.append((f"reference:{lang}", paths, None))
    return items


def _code_of(path: Path) -> list[str]:
    return [c.source for c in read_notebook(path).cells if c.cell_type == "code"]


def parity_verdicts(course: Course, assignment: Assignment) -> list[Verdict]:
    """One verdict per other language: its release and solutions have the base's code, grade ids, points and
    language-neutral checksums (autograder.languages.parity_problems)."""
    from .languages import parity_problems

    if len(course.languages) < 2:
        return []
    problems = parity_problems(course, assignment)
    return [Verdict(assignment.id, f"parity:{lang}", 0.0, 0.0, 0.0,
                    [p.removeprefix(f"{lang}: ") for p in problems if p.startswith(f"{lang}: ")])
            for lang in course.languages[1:]]


def _runs(course: Course, assignment: Assignment, notebook_sets: list[list[Path]], jobs: int,
          backend: str) -> list[CheckRun]:
    if backend == "inprocess":
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            return list(pool.map(lambda nbs: run_checks_inprocess(course, assignment, nbs), notebook_sets))
    runs = []
    for outcome in run_notebooks(course, assignment, notebook_sets, jobs):
        if outcome.error:
            outcome.run.problems.append(f"grader error: {outcome.error}")
        if outcome.reason:
            outcome.run.problems.append(f"limit hit: {outcome.reason}")
        runs.append(outcome.run)
    return runs


def validate(course: Course, ids: list[str] | None = None, jobs: int = 2, backend: str = "local") -> list[Verdict]:
    """Run every validation submission of the given assignments through the hidden checks.

    ``local`` grades them exactly as students are graded (sandbox, warm workers); ``inprocess`` runs the
    trusted notebooks inside pytest's process, for machines without bubblewrap.
    """
    verdicts = []
    for assignment in course.select(ids):
        verdicts += parity_verdicts(course, assignment)
        items = validation_set(course, assignment)
        runs = _runs(course, assignment, [nbs for _, nbs, _ in items], jobs, backend)
        for (kind, notebooks, declared), run in zip(items, runs, strict=True):
            review = submission_program(course, assignment, [read_notebook(p) for p in notebooks]).review
            verdicts.append(judge(kind, run, assignment, declared, review))
    return verdicts
