"""`autograder release`: nbgrader's transformation, determinism, --check, and the leak check."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.config import Course, load_course
from autograder.errors import AuthoringError
from autograder.release import check_release, release

from .conftest import cli


def _nb(path: Path) -> dict:
    """A notebook as plain JSON, with every cell's source joined into one string."""
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        cell["source"] = "".join(cell["source"])
    return nb


def _cell(nb: dict, gid: str) -> dict:
    return next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == gid)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for folder in ("release", "solutions") for p in sorted((root / folder).rglob("*")) if p.is_file()}


def test_release_writes_student_and_reference_notebooks(toy: Course):
    student = _nb(toy.root / "release/week00-toy/toy.ipynb")
    reference = _nb(toy.root / "solutions/week00-toy/toy.ipynb")
    assert (toy.root / "release/week00-toy/data.csv").is_file(), "public data files are released"
    text = json.dumps(student)
    for secret in ("return a + b", "np.asarray(x) * k", "BEGIN SOLUTION", "HIDDEN TESTS", "scale([3], 3)"):
        assert secret not in text
    answer = _cell(student, "answer-add")
    assert "raise NotImplementedError()" in answer["source"] and "def add(a, b):" in answer["source"]
    locked = _cell(student, "check-add")
    assert locked["metadata"]["editable"] is False and locked["metadata"]["deletable"] is False
    assert len(locked["metadata"]["nbgrader"]["checksum"]) == 32
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in student["cells"] if c["cell_type"] == "code")
    assert student["metadata"]["autograder"] == {"assignment": "week00-toy", "notebook": "toy.ipynb", "lang": "en"}
    ref_answer = _cell(reference, "answer-add")
    assert ref_answer["source"] == 'def add(a, b):\n    """Return a + b."""\n    return a + b'
    # the reference differs from the release only in the answer cells
    assert [c["source"] for c in reference["cells"] if not c["metadata"].get("nbgrader", {}).get("solution")] == \
           [c["source"] for c in student["cells"] if not c["metadata"].get("nbgrader", {}).get("solution")]


def test_release_is_deterministic_and_check_passes(toy: Course):
    before = _snapshot(toy.root)
    assert release(toy) == {"week00-toy": []}
    assert _snapshot(toy.root) == before
    assert check_release(toy) == []
    assert cli("release", "--check", cwd=toy.root).returncode == 0


def test_check_names_the_stale_file_after_a_source_edit(toy: Course):
    source = toy.root / "source/week00-toy/toy.ipynb"
    source.write_text(source.read_text().replace("np.asarray(x) * k", "k * np.asarray(x)"))
    result = cli("release", "--check", cwd=toy.root)
    assert result.returncode == 1
    assert "solutions/week00-toy/toy.ipynb" in result.stderr
    assert "np.asarray(x) * k" in (toy.root / "solutions/week00-toy/toy.ipynb").read_text(), \
        "--check writes nothing"


def test_leftover_files_are_reported_and_removed(toy: Course):
    stray = toy.root / "release/week00-toy/old.csv"
    stray.write_text("x")
    assert stray in check_release(toy)
    release(toy)
    assert not stray.exists()


def test_a_solution_line_in_a_public_file_blocks_the_release(toy_root: Path):
    (toy_root / "source/week00-toy/hints.txt").write_text("Hint: the answer is\n    return a + b\n")
    course = load_course(toy_root / "course.yml")
    with pytest.raises(AuthoringError, match=r"would leak: .*hints.txt.*return a \+ b"):
        release(course)
    assert not (toy_root / "release").exists(), "a blocked release writes nothing"


def test_hidden_test_text_in_a_public_file_blocks_the_release(toy_root: Path):
    (toy_root / "source/week00-toy/notes.md").write_text(
        'assert submission.add(20, 22) == 42, "add should return the sum of its arguments"\n')
    with pytest.raises(AuthoringError, match="notes.md"):
        release(load_course(toy_root / "course.yml"))


def test_known_wrong_notebooks_carry_their_declaration(toy: Course):
    wrong = _nb(toy.root / "solutions/week00-toy/wrong/add_subtracts.ipynb")
    assert wrong["metadata"]["autograder"]["known_wrong"]["fails"] == ["test_add_integers", "test_add_floats"]
    assert "return a - b" in json.dumps(wrong)


def test_a_bad_known_wrong_spec_is_one_clear_error(toy_root: Path):
    (toy_root / "tests/hidden/week00-toy/wrong/bad.yml").write_text(
        "description: x\nfails: [test_scale]\nsubstitute:\n  answer-add:\n    - ['not there', 'x']\n")
    result = cli("release", cwd=toy_root)
    assert result.returncode == 2
    assert "bad.yml: substitute in 'answer-add': 'not there' occurs 0 times" in result.stderr


def test_nbgraders_own_generate_assignment_still_works(toy: Course, tmp_path: Path):
    root = tmp_path / "nbgrader-course"
    shutil.copytree(toy.root / "source", root / "source")
    bin_dir = Path(sys.executable).parent  # nbgrader needs `alembic` on PATH to create its gradebook
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([str(bin_dir / "nbgrader"), "generate_assignment", "week00-toy", "--force"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    theirs, ours = _nb(root / "release/week00-toy/toy.ipynb"), _nb(toy.root / "release/week00-toy/toy.ipynb")
    # ours adds only the language-neutral checksum of locked code cells (metadata.autograder, beside nbgrader's)
    assert any("code_checksum" in c["metadata"].get("autograder", {}) for c in ours["cells"])
    without_ours = [{k: v for k, v in c["metadata"].items() if k != "autograder"} for c in ours["cells"]]
    assert [(c["source"], c["metadata"]) for c in theirs["cells"]] == \
           [(c["source"], meta) for c, meta in zip(ours["cells"], without_ours, strict=True)]
