"""`autograder validate` and the hidden-check harness: fail-closed scoring, student-safe messages."""

from __future__ import annotations

from pathlib import Path

from autograder.config import Course
from autograder.harness import run_checks_inprocess, score_results
from autograder.validate import validate

from .conftest import cli


def test_reference_full_blank_zero_and_wrong_ones_lose_what_they_declare(toy: Course):
    verdicts = {v.kind: v for v in validate(toy)}
    assert set(verdicts) == {"reference", "blank", "wrong:add_subtracts", "wrong:scale_ignores_k"}
    assert all(v.ok for v in verdicts.values()), [v.problems for v in verdicts.values()]
    assert (verdicts["reference"].got, verdicts["blank"].got) == (6, 0)
    assert verdicts["wrong:add_subtracts"].got == 3 and verdicts["wrong:scale_ignores_k"].got == 3


def test_a_wrong_declaration_is_reported_with_exit_1(toy: Course):
    spec = toy.root / "tests/hidden/week00-toy/wrong/scale_ignores_k.yml"
    spec.write_text(spec.read_text().replace("fails: [test_scale]", "fails: [test_add_floats]"))
    assert cli("release", cwd=toy.root).returncode == 0
    result = cli("validate", cwd=toy.root)
    assert result.returncode == 1
    assert "test_add_floats passes but is declared to fail" in result.stdout
    assert "test_scale fails but is not declared" in result.stdout


def test_failure_messages_never_show_the_checks_code_or_expected_values(toy: Course):
    run = run_checks_inprocess(toy, toy.assignment("week00-toy"), [toy.root / "release/week00-toy/toy.ipynb"])
    messages = {t.name: t.message for t in run.tests}
    assert messages["test_add_integers"] == "`add` is not implemented yet (it still raises NotImplementedError)"
    wrong = toy.root / "solutions/week00-toy/wrong/add_subtracts.ipynb"
    run = run_checks_inprocess(toy, toy.assignment("week00-toy"), [wrong])
    message = next(t.message for t in run.tests if t.name == "test_add_integers")
    assert message == "add should return the sum of its arguments"
    assert "42" not in message and "20" not in message


def test_bare_asserts_give_a_generic_message(toy: Course):
    hidden = toy.root / "tests/hidden/week00-toy/test_bare.py"
    hidden.write_text("import pytest\n\n@pytest.mark.points(1)\ndef test_bare(submission):\n"
                      "    assert submission.add(1, 1) == 3\n")
    run = run_checks_inprocess(toy, toy.assignment("week00-toy"), [toy.root / "solutions/week00-toy/toy.ipynb"])
    bare = next(t for t in run.tests if t.name == "test_bare")
    assert not bare.passed and bare.message == "this check failed"


def test_scoring_is_fail_closed():
    data = {
        "expected": {"a": {"name": "a", "points": 2, "description": "A"},
                     "b": {"name": "b", "points": 3, "description": "B"},
                     "c": {"name": "c", "points": 5, "description": "C"}},
        "outcomes": {"a": {"outcome": "passed", "message": ""},
                     "b": {"outcome": "skipped", "message": "skipped"},
                     "zzz": {"outcome": "passed", "message": ""}},   # unexpected: earns nothing
    }
    run = score_results(data)
    assert run.score == 2 and run.max_score == 10
    assert next(t for t in run.tests if t.name == "c").message == "this check did not run"


def test_a_check_without_points_is_a_problem(toy: Course, tmp_path: Path):
    hidden = toy.root / "tests/hidden/week00-toy/test_nopoints.py"
    hidden.write_text("def test_free(submission):\n    assert True\n")
    verdicts = validate(toy)
    assert not any(v.ok for v in verdicts)
    assert any("no @pytest.mark.points" in p for v in verdicts for p in v.problems)
