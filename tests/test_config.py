"""course.yml: a valid file loads into typed objects; every mistake is one line naming file, key, problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from autograder.config import load_course
from autograder.errors import ConfigError

from .conftest import REPO, cli


def test_course_of_the_repository_loads():
    course = load_course(REPO / "course.yml")
    ids = [a.id for a in course.assignments]
    assert ids[0] == "week01-markov"
    assert len(ids) == len(set(ids))
    week1 = course.assignment("week01-markov")
    assert week1.memory == 2 * 1024**3 and week1.time_limit == 300 and week1.gpu.value == "none"


def _write(root: Path, change) -> Path:
    path = root / "course.yml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["assignments"][0].update(colour="red"), "assignments[0] (week00-toy).colour: unknown key"),
        (lambda d: d["assignments"][0].update(week="first"), "assignments[0] (week00-toy).week: "),
        (lambda d: d["assignments"].append(dict(d["assignments"][0])), "duplicate assignment id 'week00-toy'"),
        (lambda d: d["assignments"][0].update(due="2025-12-01"), "due date 2025-12-01 is before release date"),
        (lambda d: d["assignments"][0].update(id="week07-absent"), "source folder source/week07-absent does not"),
        (lambda d: d["assignments"][0].update(memory="lots"), "expected a size such as 2GiB"),
        (lambda d: d["assignments"][0].update(gpu="maybe"), "gpu"),
        (lambda d: d["assignments"][0].pop("title"), "title: required key is missing"),
    ],
)
def test_mistakes_name_file_key_and_problem(toy_root: Path, change, expected: str):
    path = _write(toy_root, change)
    with pytest.raises(ConfigError) as info:
        load_course(path)
    message = str(info.value)
    assert message.startswith(str(path)) and expected in message
    assert "\n" not in message


def test_cli_prints_one_line_and_exits_2(toy_root: Path):
    (toy_root / "course.yml").write_text("title: x\nassignments:\n  - id: week00-toy\n    title: [unclosed\n")
    result = cli("release", cwd=toy_root)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "course.yml" in lines[0] and "not valid YAML" in lines[0]
    assert "Traceback" not in result.stderr


def test_cli_unknown_key_exits_2_without_traceback(toy_root: Path):
    _write(toy_root, lambda d: d.update(semester="fall"))
    result = cli("validate", cwd=toy_root)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: {toy_root / 'course.yml'}: semester: unknown key"]


@pytest.mark.parametrize("name", ["ps1", "hw-03", "Lab 2", "week01-markov"])
def test_any_assignment_name_nbgrader_accepts(toy_root: Path, name: str):
    """nbgrader courses name assignments freely; the week is optional metadata."""
    (toy_root / "source" / "week00-toy").rename(toy_root / "source" / name)

    def change(data: dict) -> None:
        data["assignments"][0]["id"] = name
        data["assignments"][0].pop("week", None)

    course = load_course(_write(toy_root, change))
    assert course.assignments[0].id == name and course.assignments[0].week is None


@pytest.mark.parametrize("name", ["a/b", "x+y", "..", " padded", ""])
def test_assignment_names_that_cannot_be_folders_are_refused(toy_root: Path, name: str):
    path = _write(toy_root, lambda d: d["assignments"][0].update(id=name))
    with pytest.raises(ConfigError) as info:
        load_course(path)
    assert "not an assignment id nbgrader accepts" in str(info.value) and "\n" not in str(info.value)
