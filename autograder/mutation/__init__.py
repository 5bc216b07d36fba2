"""`autograder mutate`: how strong are the hidden checks? Grade single-change mutants of the reference.

Each mutant is the reference solution with one change in one answer cell (:mod:`.operators`). It is graded like a
submission (the engine's pool of warm sandboxes, the same hidden checks) and is *killed* when it scores less
than the reference. The mutation score of a graded function is killed / (mutants that are not equivalent to the
reference); equivalent ones are declared, with a reason each, in ``tests/hidden/<id>/equivalent_mutants.yml``.
Results are cached per mutant and per version of the checks and reference, so a re-run grades only what changed.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from ..config import Assignment, Course
from ..engine import Outcome
from ..errors import AuthoringError, UserError
from ..harness import submission_program
from ..notebooks import cells_by_grade_id, is_solution, read_notebook
from ..pools.local import Pool
from .operators import OPERATORS, Mutant, cell_mutants

__all__ = ["OPERATORS", "Mutant", "MutationRun", "generate", "mutate", "load_equivalents", "render_markdown"]

EQUIVALENTS = "equivalent_mutants.yml"
CACHE_DIR = ".mutation-cache"
# A mutant may run this many times as long as the reference (at least MIN_LIMIT s, at most the assignment's own
# limit): a mutant that loops forever is killed in seconds instead of minutes.
LIMIT_FACTOR, MIN_LIMIT = 5.0, 20.0


@dataclass
class Graded:
    """What grading one mutant gave."""

    status: str            # killed | survived | error
    score: float
    max_score: float
    failed: list[str] = field(default_factory=list)
    reason: str = ""
    seconds: float = 0.0
    cached: bool = False


@dataclass
class MutationRun:
    """Everything one `mutate` run found for one assignment."""

    assignment: str
    reference_score: float
    max_score: float
    mutants: list[Mutant]                         # graded ones (the sample, without the equivalent ones)
    equivalent: dict[str, str]                    # id -> reason, for mutants generated this run
    results: dict[str, Graded]
    generated: int                                # all mutants, before sampling
    sample: int | None
    seconds: float
    stale: list[str] = field(default_factory=list)  # equivalent-list ids no mutant has any more
    threshold: float = 0.0
    timing: str = ""  # the wall time of the last run of this profile that graded every mutant afresh

    def counts(self, function: str | None = None) -> dict[str, int]:
        chosen = [m for m in self.mutants if function in (None, m.function)]
        statuses = [self.results[m.id].status for m in chosen if m.id in self.results]
        return {s: statuses.count(s) for s in ("killed", "survived", "error")}

    def score(self, function: str | None = None) -> float | None:
        """Killed / (killed + survived); None when nothing was graded."""
        c = self.counts(function)
        judged = c["killed"] + c["survived"]
        return c["killed"] / judged if judged else None

    @property
    def functions(self) -> list[str]:
        return list(dict.fromkeys(m.function for m in self.mutants))

    @property
    def survivors(self) -> list[Mutant]:
        return [m for m in self.mutants if self.results.get(m.id, Graded("error", 0, 0)).status == "survived"]

    @property
    def passed(self) -> bool:
        score = self.score()
        return score is None or score >= self.threshold


def reference_notebooks(course: Course, assignment: Assignment) -> list[Path]:
    paths = [course.solutions_dir(assignment) / name for name in assignment.notebooks]
    for path in paths:
        if not path.is_file():
            raise UserError(f"missing reference notebook; run `autograder release {assignment.id}` first", path)
    if not course.hidden_tests_dir(assignment).is_dir():
        raise UserError("no hidden checks to measure (the folder does not exist)", course.hidden_tests_dir(assignment))
    return paths


def generate(course: Course, assignment: Assignment) -> list[Mutant]:
    """Every mutant of the reference's answer cells (nbgrader ``solution: true``), in notebook order."""
    mutants: list[Mutant] = []
    for path in reference_notebooks(course, assignment):
        nb = read_notebook(path)
        for gid, cell in cells_by_grade_id(nb).items():
            if cell.cell_type == "code" and is_solution(cell):
                mutants += cell_mutants(cell.source, notebook=path.name, cell=gid)
    return mutants


def load_equivalents(course: Course, assignment: Assignment) -> dict[str, str]:
    """The reviewed list of equivalent mutants: ``- id: <id>`` / ``reason: <one line>`` entries."""
    path = course.hidden_tests_dir(assignment) / EQUIVALENTS
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except yaml.YAMLError as exc:
        raise AuthoringError(f"not valid YAML ({getattr(exc, 'problem', exc)})", path) from None
    if not isinstance(data, list):
        raise AuthoringError("expected a list of entries with 'id' and 'reason'", path)
    found: dict[str, str] = {}
    for index, entry in enumerate(data):
        if isinstance(entry, dict) and isinstance(entry.get("id"), int | float):
            raise AuthoringError(f"entry {index + 1}: the id {entry['id']} reads as a number in YAML; quote it "
                                 f"(id: \"{entry['id']}\")", path)
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) \
                or not isinstance(entry.get("reason"), str) or not entry["reason"].strip():
            raise AuthoringError(f"entry {index + 1} needs an 'id' and a one-line 'reason'", path)
        found[entry["id"]] = entry["reason"].strip()
    return found


def sample_of(mutants: list[Mutant], per_function: int) -> list[Mutant]:
    """A deterministic subset: per function, the ``per_function`` mutants with the smallest ids (hashes, so the
    choice is spread over operators and lines and stays put while the code does)."""
    chosen: set[str] = set()
    by_function: dict[str, list[Mutant]] = {}
    for m in mutants:
        by_function.setdefault(m.function, []).append(m)
    for group in by_function.values():
        chosen.update(m.id for m in sorted(group, key=lambda m: m.id)[:per_function])
    return [m for m in mutants if m.id in chosen]


def fingerprint(course: Course, assignment: Assignment) -> str:
    """A hash of everything a mutant's grade depends on besides the mutant: the hidden checks (and their data),
    the reference and the release (the locked cells around the answers)."""
    digest = hashlib.sha256()
    roots = [course.hidden_tests_dir(assignment), course.solutions_dir(assignment), course.release_dir(assignment)]
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                           and "wrong" not in p.relative_to(root).parts and p.name != EQUIVALENTS):
            digest.update(str(path.relative_to(course.root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


class Cache:
    """Grades of mutants on disk, one JSON file per assignment, keyed by mutant id + :func:`fingerprint`."""

    def __init__(self, course: Course, assignment: Assignment):
        self.path = course.root / CACHE_DIR / f"{assignment.id}.json"
        self.version = fingerprint(course, assignment)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        self.entries: dict = data if isinstance(data, dict) else {}

    def get(self, key: str) -> Graded | None:
        entry = self.entries.get(f"{key}@{self.version}")
        return Graded(**entry, cached=True) if isinstance(entry, dict) else None

    def put(self, key: str, graded: Graded) -> None:
        """Saved at once (atomically), so an interrupted run loses nothing it graded."""
        self.entries[f"{key}@{self.version}"] = {k: v for k, v in asdict(graded).items() if k != "cached"}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.entries, indent=0, sort_keys=True), encoding="utf-8")
        tmp.replace(self.path)

    def note_timing(self, profile: str, seconds: float, count: int) -> None:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        self.put(f"timing:{profile}", Graded("timing", seconds, count, reason=when))

    def timing(self, profile: str) -> str:
        entry = self.get(f"timing:{profile}")
        return f"{entry.score:.0f} s for {entry.max_score:.0f} mutants ({entry.reason})" if entry else ""


def _cells(course: Course, assignment: Assignment, notebooks: dict, mutant: Mutant | None) -> list:
    """The graded code cells of the reference, with ``mutant``'s cell changed."""
    nbs = [notebooks[name] for name in assignment.notebooks]
    if mutant is not None:
        nbs = [copy.deepcopy(nb) if name == mutant.notebook else nb for name, nb in zip(assignment.notebooks, nbs,
                                                                                        strict=True)]
        cells_by_grade_id(nbs[assignment.notebooks.index(mutant.notebook)])[mutant.cell].source = mutant.source
    return submission_program(course, assignment, nbs).code_cells()


def _graded(outcome: Outcome, reference: float | None) -> Graded:
    run = outcome.run
    failed = [t.name for t in run.failed() if t.message != "this check did not run"]  # (stopped at the first)
    if outcome.error:
        return Graded("error", 0.0, run.max_score, failed, f"grader error: {outcome.error}", outcome.seconds)
    killed = reference is not None and run.score < reference - 1e-9
    return Graded("killed" if killed else "survived", run.score, run.max_score, failed, outcome.reason,
                  outcome.seconds)


def mutate(course: Course, assignment: Assignment, *, jobs: int = 2, sample: int | None = None,
           fresh: bool = False, on_total: Callable[[int], None] | None = None,
           on_result: Callable[[Mutant, Graded], None] | None = None) -> MutationRun:
    """Generate, grade (or take from the cache, unless ``fresh``) and judge the mutants of one assignment."""
    begin = time.monotonic()
    paths = reference_notebooks(course, assignment)
    notebooks = {p.name: read_notebook(p) for p in paths}
    everything = generate(course, assignment)
    declared = load_equivalents(course, assignment)
    ids = {m.id for m in everything}
    equivalent = {i: r for i, r in declared.items() if i in ids}
    candidates = [m for m in everything if m.id not in equivalent]
    chosen = sample_of(candidates, sample) if sample else candidates
    cache = Cache(course, assignment)

    reference = None if fresh else cache.get("reference")
    if reference is None or reference.status == "error":
        [(_, outcome)] = list(Pool(course, assignment, 1).map([("reference", _cells(course, assignment, notebooks,
                                                                                     None))]))
        if outcome.error or outcome.run.failed():
            why = outcome.error or "; ".join(f"{t.name} fails" for t in outcome.run.failed())
            raise UserError(f"{assignment.id}: the reference does not earn full marks ({why}); "
                            "run `autograder validate` first")
        reference = _graded(outcome, None)
        cache.put("reference", reference)
    results: dict[str, Graded] = {}
    todo = []
    for m in chosen:
        hit = None if fresh else cache.get(m.id)
        if hit is not None and hit.status != "error":
            results[m.id] = hit
        else:
            todo.append(m)
    if on_total:
        on_total(len(chosen))
    for m in chosen:
        if m.id in results and on_result:
            on_result(m, results[m.id])
    if todo:
        limit = min(assignment.time_limit, max(MIN_LIMIT, LIMIT_FACTOR * reference.seconds))
        quick = assignment.model_copy(update={"time_limit": limit,
                                              "call_time_limit": min(assignment.call_time_limit, limit)})
        by_id = {m.id: m for m in todo}
        items = [(m.id, _cells(course, assignment, notebooks, m)) for m in todo]
        pool = Pool(course, quick, jobs)
        pool.config["stop_at_first_failure"] = True  # killed is all we need to know: skip the remaining checks
        pool.first_checks = lambda key: [by_id[key].function]  # ... and start with the mutated function's
        with contextlib.closing(pool.map(items)) as outcomes:
            for key, outcome in outcomes:
                graded = _graded(outcome, reference.score)
                if graded.status != "error":
                    cache.put(key, graded)
                results[key] = graded
                if on_result:
                    on_result(by_id[key], graded)
    stale = sorted(set(declared) - ids)
    run = MutationRun(assignment.id, reference.score, reference.max_score, chosen, equivalent, results,
                      len(everything), sample, time.monotonic() - begin, stale, assignment.mutation_threshold)
    profile = f"sample{sample}" if sample else "full"
    if chosen and len(todo) == len(chosen):  # graded from scratch: the honest time, kept for later reports
        cache.note_timing(profile, run.seconds, len(chosen))
    run.timing = cache.timing(profile)
    return run


def unified_diff(mutant: Mutant, original: str) -> str:
    lines = difflib.unified_diff(original.splitlines(), mutant.source.splitlines(), f"{mutant.cell} (reference)",
                                 f"{mutant.cell} (mutant {mutant.id})", n=2, lineterm="")
    return "\n".join(lines)


def _pct(score: float | None) -> str:
    return "-" if score is None else f"{100 * score:.1f}%"


def render_markdown(run: MutationRun, course: Course, assignment: Assignment, command: str) -> str:
    """The results file: score per function, survivors as diffs, the equivalent list, timings."""
    originals = {}
    for path in reference_notebooks(course, assignment):
        for gid, cell in cells_by_grade_id(read_notebook(path)).items():
            originals[gid] = cell.source
    total = run.counts()
    profile = f"fast (sample of {run.sample} per function)" if run.sample else "full"
    lines = [f"# Mutation testing: {run.assignment}", "",
             f"Command: `{command}` ({profile}), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
             f"- mutants generated: {run.generated}; equivalent (declared): {len(run.equivalent)}; "
             f"graded this profile: {len(run.mutants)}",
             f"- killed {total['killed']}, survived {total['survived']}, grader errors {total['error']}",
             f"- **mutation score: {_pct(run.score())}** (threshold {_pct(run.threshold)}: "
             f"{'met' if run.passed else 'NOT met'})",
             f"- reference score {run.reference_score:g}/{run.max_score:g}; wall time {run.seconds:.0f} s "
             f"({sum(1 for r in run.results.values() if r.cached)} results from the cache)"
             + (f"; last run grading all afresh: {run.timing}" if run.timing else ""), "",
             "| function | mutants | killed | survived | errors | score |", "|---|---|---|---|---|---|"]
    for function in run.functions:
        c = run.counts(function)
        lines.append(f"| `{function}` | {sum(c.values())} | {c['killed']} | {c['survived']} | {c['error']} | "
                     f"{_pct(run.score(function))} |")
    lines += ["", "## Surviving mutants", ""]
    if not run.survivors:
        lines.append("None.")
    for m in run.survivors:
        lines += [f"### `{m.function}`: {m.description} (id `{m.id}`)", "", "```diff",
                  unified_diff(m, originals.get(m.cell, "")), "```", ""]
    errors = [m for m in run.mutants if run.results.get(m.id) and run.results[m.id].status == "error"]
    if errors:
        lines += ["", "## Grader errors (not counted)", ""]
        lines += [f"- `{m.id}` `{m.function}` {m.description}: {run.results[m.id].reason}" for m in errors]
    lines += ["", "## Declared equivalent", ""]
    lines += [f"- `{i}`: {reason}" for i, reason in run.equivalent.items()] or ["None."]
    if run.stale:
        lines += ["", f"Stale entries in {EQUIVALENTS} (no such mutant any more): {', '.join(run.stale)}"]
    return "\n".join(lines) + "\n"
