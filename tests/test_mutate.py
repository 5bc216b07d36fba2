"""`autograder mutate` on the toy course: the operators, killed and surviving mutants graded through the real
sandbox, the equivalent list, the cache, and the exit code against course.yml's threshold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from autograder.config import Course, load_course
from autograder.errors import UserError
from autograder.mutation import generate, mutate
from autograder.mutation.operators import cell_mutants

from .conftest import cli


def changes(source: str) -> set[tuple[str, str, str]]:
    return {(m.operator, m.original, m.replacement) for m in cell_mutants(source, notebook="nb", cell="c")}


def test_operators_produce_the_expected_single_changes():
    found = changes(
        "def f(x, y, n):\n"
        '    """Doc."""\n'
        "    s = x + y\n"
        "    s = s * 2\n"
        "    if n < 3:\n"
        "        s += x\n"
        "    t = torch.softmax(s[1:n], dim=-1)\n"
        "    t.add(x)\n"
        "    return float(t.sum(0))\n")
    expected = {
        ("arith", "x + y", "x - y"),
        ("compare", "n < 3", "n <= 3"),
        ("constant", "2", "3"), ("constant", "2", "1"),
        ("slice", "1:n", "2:n"), ("slice", "1:n", "1:n + 1"), ("slice", "1:n", "1:n - 1"),
        ("dim", "dim=-1", "dim=0"), ("dim", "dim=-1", "dim=-2"), ("dim", "0", "1"), ("dim", "0", "-1"),
        ("delete", "s = x + y\n", "pass\n"),
        ("args", "torch.softmax(s[1:n], dim=-1)", "torch.softmax(dim=-1)"),
        ("args", "torch.softmax(s[1:n], dim=-1)", "torch.softmax(s[1:n])"),
        ("call", "float(t.sum(0))", "t.sum(0)"),
        ("call", "t.sum(0)", "t"), ("call", "t.add(x)", "t"),
        ("inplace", "s = s * 2", "s *= 2"),
        ("inplace", "s += x", "s = s + x"),
        ("inplace", "t.add(x)", "t.add_(x)"),
    }
    assert expected <= found, expected - found
    assert not any(original.startswith('"""') for _, original, _ in found), "docstrings are never deleted"
    swapped = changes("def g(a, b):\n    return h(a, b)\n")
    assert ("args", "h(a, b)", "h(b, a)") in swapped


def test_ids_are_stable_across_edits_elsewhere_and_mutants_compile():
    body = "def f(x):\n    return x[1:] * 2\n"
    first = {m.id: m.description for m in cell_mutants(body, notebook="nb", cell="c")}
    moved = {m.id: m.description for m in cell_mutants("import math\n\n\n" + body, notebook="nb", cell="c")}
    assert first and set(first) <= set(moved)
    assert len(first) == len(set(first.values()))
    for m in cell_mutants(body, notebook="nb", cell="c"):
        compile(m.source, "m", "exec")
    assert list(cell_mutants("%timeit f()\n", notebook="nb", cell="c")) == []  # magics: nothing to mutate


def _set(root: Path, threshold: float) -> None:
    path = root / "course.yml"
    data = yaml.safe_load(path.read_text())
    data["assignments"][0]["mutation_threshold"] = threshold
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _by_change(run, function: str, original: str, replacement: str):
    [m] = [m for m in run.mutants if (m.function, m.original, m.replacement) == (function, original, replacement)]
    return m, run.results[m.id]


def test_caught_mutant_is_killed_missed_one_survives_and_the_cache_skips_regrading(toy: Course):
    a = toy.assignments[0]
    ids = [m.id for m in generate(toy, a)]
    assert len(ids) == len(set(ids)) > 5
    run = mutate(toy, a, jobs=2)
    assert run.reference_score == run.max_score == 6
    killed, graded = _by_change(run, "add", "a + b", "a - b")
    assert graded.status == "killed" and "test_add_integers" in graded.failed
    # The checks only pass numpy arrays to scale, so dropping np.asarray goes unnoticed.
    survivor, graded = _by_change(run, "scale", "np.asarray(x)", "x")
    assert graded.status == "survived" and graded.score == 6
    assert survivor in run.survivors and run.score() < 1.0
    assert not any(g.cached for g in run.results.values())
    assert run.timing.startswith(f"{run.seconds:.0f} s for {len(run.mutants)} mutants (")

    again = mutate(toy, a, jobs=2)
    assert all(g.cached for g in again.results.values())
    assert {k: g.status for k, g in again.results.items()} == {k: g.status for k, g in run.results.items()}
    assert again.timing == run.timing  # the from-scratch time is what the report keeps quoting
    # A change to the hidden checks makes every cached grade stale.
    checks = toy.hidden_tests_dir(a) / "test_toy.py"
    checks.write_text(checks.read_text() + "\n# edited\n")
    assert not any(g.cached for g in mutate(toy, a, jobs=2, sample=1).results.values())


def test_equivalent_list_leaves_the_denominator_and_the_exit_code_follows_the_threshold(toy: Course):
    root = toy.root
    a = toy.assignments[0]
    _set(root, 1.0)
    result = cli("mutate", "--jobs", "2", cwd=root)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "below its mutation_threshold of 100.0%" in result.stderr
    report = (root / "benchmarks" / "results" / "mutation-week00-toy.md").read_text()
    assert "## Surviving mutants" in report and "-    return np.asarray(x) * k" in report

    survivors = [m for m in mutate(toy, a).survivors]
    before = mutate(toy, a)
    (toy.hidden_tests_dir(a) / "equivalent_mutants.yml").write_text(yaml.safe_dump(
        [{"id": m.id, "reason": "stands for a check that cannot tell (test of the list)"} for m in survivors]))
    after = mutate(toy, load_course(root / "course.yml").assignments[0])
    assert set(after.equivalent) == {m.id for m in survivors}
    assert len(after.mutants) == len(before.mutants) - len(survivors)
    assert after.score() == 1.0 and after.counts()["killed"] == before.counts()["killed"]
    result = cli("mutate", "week00-toy", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"score 100\.0% \(\d+ killed, 0 survived", result.stdout)


def test_bad_input_is_one_sentence(toy: Course, tmp_path: Path):
    result = cli("mutate", "week99-nope", cwd=toy.root)
    assert result.returncode == 2 and "no assignment 'week99-nope'" in result.stderr
    assert "Traceback" not in result.stderr
    for path in (toy.root / "solutions").rglob("*.ipynb"):
        path.unlink()
    result = cli("mutate", cwd=toy.root)
    assert result.returncode == 2 and "run `autograder release week00-toy` first" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    (toy.hidden_tests_dir(toy.assignments[0]) / "equivalent_mutants.yml").write_text("- just an id\n")
    with pytest.raises(UserError, match="needs an 'id' and a one-line 'reason'"):
        from autograder.mutation import load_equivalents
        load_equivalents(toy, toy.assignments[0])
    (toy.hidden_tests_dir(toy.assignments[0]) / "equivalent_mutants.yml").write_text(
        "- id: 4636144636\n  reason: an id of digits only\n")
    with pytest.raises(UserError, match=r'reads as a number in YAML; quote it \(id: "4636144636"\)'):
        load_equivalents(toy, toy.assignments[0])
