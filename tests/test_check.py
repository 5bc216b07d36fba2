"""`autograder check`: the student's pre-submission check, through the real CLI and a real kernel."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from autograder.config import Course

from .conftest import cli


def test_reference_passes_every_public_check(toy: Course):
    result = cli("check", "solutions/week00-toy/toy.ipynb", cwd=toy.root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("Ready to submit: all 2 public checks pass.")
    assert "WARNING" not in result.stderr


def test_blank_release_runs_and_reports_failures(toy: Course):
    result = cli("check", "release/week00-toy/toy.ipynb", cwd=toy.root)
    assert result.returncode == 1
    assert "check-add" in result.stdout and "not attempted" in result.stdout
    assert "`add` is not implemented yet" in result.stdout and "NotImplementedError" not in result.stdout
    assert result.stdout.strip().endswith("Not ready yet: 2 of 2 public checks do not pass yet.")


def test_errors_name_section_and_function_and_fold_their_knock_on_errors(toy: Course, tmp_path: Path):
    nb = json.loads((toy.root / "release/week00-toy/toy.ipynb").read_text())
    ids = [c["metadata"].get("nbgrader", {}).get("grade_id") for c in nb["cells"]]
    after = ids.index("check-add")
    mine = [("markdown", "## 2. Using add\n\nAdd the totals."), ("code", "total = add(2, 3)"),
            ("code", "print(total * 2)"), ("code", "doubled = total + 1\nprint(doubled)"),
            ("code", "print(doubled)"), ("code", "print(undefined_thing)")]
    nb["cells"][after + 1:after + 1] = [
        {"cell_type": kind, "metadata": {}, "source": source, "id": f"mine-{i}",
         **({"outputs": [], "execution_count": None} if kind == "code" else {})}
        for i, (kind, source) in enumerate(mine)]
    path = toy.root / "mine.ipynb"
    path.write_text(json.dumps(nb))
    result = cli("check", str(path), cwd=toy.root)
    assert result.returncode == 1
    lines = [line.strip() for line in result.stdout.splitlines()]
    errors = [line for line in lines if line.startswith(("error ", "which also stops"))]
    assert errors == ["error in section '2. Using add': `add` is not implemented yet",
                      "which also stops: in section '2. Using add': `total` is not defined",
                      "which also stops: in section '2. Using add': `total` is not defined",
                      "which also stops: in section '2. Using add': `doubled` is not defined",
                      "error in section '2. Using add': `undefined_thing` is not defined"], result.stdout
    assert not re.search(r"\bcell \d", result.stdout)  # JupyterLab shows no cell numbers
    assert "error in cell" not in result.stdout and "NameError" not in result.stdout


def test_edited_or_deleted_locked_cells_are_named(toy: Course, tmp_path: Path):
    nb = json.loads((toy.root / "solutions/week00-toy/toy.ipynb").read_text())
    for cell in nb["cells"]:
        cell["source"] = "".join(cell["source"])
    by_id = {c["metadata"].get("nbgrader", {}).get("grade_id"): c for c in nb["cells"]}
    by_id["check-scale"]["source"] = "assert True  # nothing to see"
    nb["cells"].remove(by_id["setup"])
    # (a metadata-less cell equal to `setup` would be `setup`, as Colab saves it; this one is the student's own)
    nb["cells"].insert(0, {"cell_type": "code", "metadata": {}, "source": "import numpy as np\nprint('mine')",
                           "outputs": [], "execution_count": None, "id": "mine"})
    path = toy.root / "submitted.ipynb"
    path.write_text(json.dumps(nb))
    result = cli("check", str(path), cwd=toy.root)
    assert result.returncode == 1
    assert "check-scale: modified" in result.stdout and "setup: deleted" in result.stdout
    # the checks pass on the restored cells, and the one verdict line does not claim otherwise
    verdict = result.stdout.strip().splitlines()[-1]
    assert verdict.startswith("Not ready yet: locked cells were changed or deleted")
    assert "public checks pass" not in result.stdout


def test_a_notebook_over_its_time_limit_is_reported(toy: Course):
    nb = json.loads((toy.root / "solutions/week00-toy/toy.ipynb").read_text())
    nb["cells"].append({"cell_type": "code", "metadata": {}, "source": "import time\ntime.sleep(30)",
                        "outputs": [], "execution_count": None, "id": "slow"})
    course_file = toy.root / "course.yml"
    course_file.write_text(course_file.read_text().replace("time_limit: 60", "time_limit: 3"))
    path = toy.root / "slow.ipynb"
    path.write_text(json.dumps(nb))
    result = cli("check", str(path), cwd=toy.root)
    assert result.returncode == 1 and "Timed out" in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b'{"cells": [', "invalid JSON"),
        (b'{"hello": "world"}', "not a Jupyter notebook"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8"),
        (b'{"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {"autograder": '
         b'{"assignment": "week09-nope"}}}', "week09-nope"),
    ],
)
def test_unusable_files_give_one_line_and_exit_2(toy: Course, content: bytes, message: str):
    path = toy.root / "broken.ipynb"
    path.write_bytes(content)
    result = cli("check", str(path), cwd=toy.root)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "broken.ipynb" in lines[0]


def test_a_deleted_answer_cell_is_named_as_needing_review(toy: Course):
    nb = json.loads((toy.root / "solutions/week00-toy/toy.ipynb").read_text())
    nb["cells"] = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") != "answer-add"]
    path = toy.root / "no-add.ipynb"
    path.write_text(json.dumps(nb))
    result = cli("check", str(path), cwd=toy.root)
    assert result.returncode == 1
    assert ("needs review by the course staff if submitted like this: answer cell answer-add is missing and no "
            "cell of the notebook defines `add`") in result.stdout
    assert "NotImplementedError" not in result.stdout  # the stub is not run in its place: add is simply undefined
    assert "check-add" in result.stdout and "`add` is not defined" in result.stdout
