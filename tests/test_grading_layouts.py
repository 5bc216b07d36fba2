"""Submissions as a real class hands them in, graded through the sandbox: names in Hangul (NFC and NFD), with
spaces, browser copies, case variants and LMS download names land in the right students, once each; exports and
feedback show the names as written, in safe folders; nbgrader's layout with renamed, duplicated and several
notebooks grades the student's work, or says it needs review."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pandas as pd
import pytest

from autograder.config import Course
from autograder.grading import grade
from autograder.results import Status
from autograder.store import Store
from autograder.students import folder_name

from .conftest import cli
from .submission_files import SPLIT, at, nfd, put, split_course, split_notebook, toy_notebook

# file name -> (notebook, hours after the first day's 09:00): the newest copy of a student is what counts
CLASS = {
    "김민준.ipynb": ("reference", 1),
    nfd("이서연") + ".ipynb": ("reference", 1),             # saved on a Mac
    "Kim Minjun.ipynb": ("wrong", 1),
    "박지훈.ipynb": ("release", 1),
    "박지훈 (1).ipynb": ("reference", 3),                   # downloaded again and finished: graded
    nfd("박지훈 (2)") + ".ipynb": ("release", 2),
    "smithjohn_12345_67890_toy.ipynb": ("reference", 1),   # Canvas
    "Lee Seoyeon_7654321_assignsubmission_file_toy.ipynb": ("wrong", 1),  # Moodle, flat
    "O'Brien: Seán.ipynb": ("reference", 1),               # an id that is not a safe folder name as it is
    "Alice.ipynb": ("release", 1),
    "alice.ipynb": ("reference", 2),
}
EXPECTED = {"김민준": 6, "이서연": 6, "Kim Minjun": 3, "박지훈": 6, "smithjohn": 6, "Lee Seoyeon": 3,
            "O'Brien: Seán": 6, "alice": 6}
STRAYS = ["EXPECTED.json", ".DS_Store", "notes.txt", "photo.png"]


@pytest.fixture
def released(toy_root: Path) -> Course:
    return split_course(toy_root)


def _gradebook(root: Path) -> dict[str, tuple[str, float]]:
    """Each student's latest result, as the gradebook shows it."""
    with Store(root / "gradebook.db") as store:
        latest = store.latest("week00-toy")
    assert len(latest) == len({r.student for r in latest}), "one row per student"
    return {r.student: (r.status.value, r.score) for r in latest}


def test_a_korean_class_grades_into_the_right_students_with_names_as_written(released: Course):
    folder = released.root / "incoming"
    for name, (kind, hours) in CLASS.items():
        put(folder / name, toy_notebook(released, kind), when=at(hours))
    for name in STRAYS:
        put(folder / name, b"{}")
    run = cli("grade", "week00-toy", "--submissions", str(folder), "--jobs", "2", cwd=released.root)
    assert run.returncode == 0, run.stderr
    assert f"warning: {folder}: skipped 4 item(s) that are not submissions: .DS_Store, EXPECTED.json, notes.txt " \
           "and photo.png" in run.stderr
    assert "warning: 2 student(s) handed in copies or renamed notebooks" in run.stderr
    gradebook = _gradebook(released.root)
    assert gradebook == {name: ("graded", score) for name, score in EXPECTED.items()}
    assert all(unicodedata.is_normalized("NFC", name) for name in gradebook)

    for name in EXPECTED:
        result = released.root / "autograded" / folder_name(name) / "week00-toy/result.json"
        assert json.loads(result.read_text(encoding="utf-8"))["student"] == name
        feedback = (released.root / "feedback" / folder_name(name) / "week00-toy/feedback.md").read_text()
        assert f"feedback for {name}" in feedback
    assert (released.root / "autograded/김민준/week00-toy/result.json").is_file()   # readable where possible
    assert (released.root / "autograded/Kim Minjun/week00-toy/result.json").is_file()
    assert folder_name("O'Brien: Seán").startswith("O'Brien_Seán~")                # safe where not
    jihun = json.loads((released.root / "autograded/박지훈/week00-toy/result.json").read_text(encoding="utf-8"))
    assert jihun["reason"].startswith("graded 박지훈 (1).ipynb, the newest of 3 files; not graded: ")

    assert cli("export", "week00-toy", "--format", "csv", cwd=released.root).returncode == 0
    frame = pd.read_csv(released.root / "exports/week00-toy.csv", encoding="utf-8")
    assert dict(zip(frame["student"], frame["score"], strict=True)) == EXPECTED
    assert cli("export", "week00-toy", "--format", "gradescope", cwd=released.root).returncode == 0
    exported = released.root / "exports/week00-toy-gradescope"
    assert sorted(p.name for p in exported.iterdir()) == sorted(folder_name(n) for n in EXPECTED)
    assert json.loads((exported / "이서연/results.json").read_text())["score"] == 6

    # a later batch spells alice in capitals: still the one student, under the spelling first recorded
    put(folder / "ALICE (1).ipynb", toy_notebook(released, "wrong"), when=at(4))
    again = cli("grade", "week00-toy", "--submissions", str(folder), cwd=released.root)
    assert again.returncode == 0 and "graded 1 submission(s)" in again.stdout
    assert _gradebook(released.root) == {**{n: ("graded", s) for n, s in EXPECTED.items()}, "alice": ("graded", 3)}


def test_nbgrader_layout_with_renamed_and_duplicated_notebooks(released: Course, tmp_path: Path):
    folder = tmp_path / "collected"  # nbgrader's <student>/<assignment>/, found inside --submissions
    reference, blank, wrong = (toy_notebook(released, k) for k in ("reference", "release", "wrong"))
    put(folder / "alice/week00-toy/Toy.ipynb", reference)
    put(folder / "bob/week00-toy/toy.ipynb", blank, when=at(2))         # the untouched release beside the work
    put(folder / "bob/week00-toy/toy-Copy1.ipynb", reference, when=at(1))
    put(folder / "carol/week00-toy/toy.ipynb", wrong, when=at(1))       # two different attempts
    put(folder / "carol/week00-toy/toy (1).ipynb", reference, when=at(2))
    put(folder / "김민준/week00-toy/toy (1).ipynb", reference)
    batch = grade(released, released.assignment("week00-toy"), submissions=folder, jobs=2)
    results = {r.student: r for r in batch.results}
    assert {s: (r.status, r.score) for s, r in results.items()} == {
        "alice": (Status.graded, 6), "bob": (Status.graded, 6), "carol": (Status.needs_review, 6),
        "김민준": (Status.graded, 6)}
    assert results["alice"].reason == "graded Toy.ipynb as toy.ipynb"
    assert results["bob"].reason == "graded toy-Copy1.ipynb as toy.ipynb; toy.ipynb unchanged from the release"
    assert results["carol"].review == ["2 notebooks could be toy.ipynb: toy (1).ipynb and toy.ipynb; "
                                       "toy (1).ipynb, the newest, was graded"]
    feedback = (released.root / "feedback/carol/week00-toy/feedback.md").read_text()
    assert "provisional" in feedback and "toy (1).ipynb and toy.ipynb" in feedback
    assert any("1 student(s) will need review" in line for line in batch.warnings)


def test_several_notebooks_per_assignment_are_matched_by_grade_ids(released: Course, tmp_path: Path):
    part1, part2 = (split_notebook(released, "reference", p) for p in ("part1.ipynb", "part2.ipynb"))
    folder = released.root / "submitted"
    put(folder / f"dana/{SPLIT}/part1.ipynb", part1)
    put(folder / f"dana/{SPLIT}/part2.ipynb", part2)
    put(folder / f"eve/{SPLIT}/answers-a.ipynb", part1)     # renamed: found by the grade ids inside
    put(folder / f"eve/{SPLIT}/answers-b.ipynb", part2)
    put(folder / f"finn/{SPLIT}/part1.ipynb", part2)        # names swapped
    put(folder / f"finn/{SPLIT}/part2.ipynb", part1)
    put(folder / f"hana/{SPLIT}/part1.ipynb", part1)        # part 2 never handed in
    batch = grade(released, released.assignment(SPLIT), jobs=2)
    results = {r.student: (r.status, r.score, r.reason) for r in batch.results}
    assert results == {
        "dana": (Status.graded, 6, ""),
        "eve": (Status.graded, 6, "graded answers-a.ipynb as part1.ipynb; graded answers-b.ipynb as part2.ipynb"),
        "finn": (Status.graded, 6, "graded part2.ipynb as part1.ipynb; graded part1.ipynb as part2.ipynb"),
        "hana": (Status.ungradable, 0, "part2.ipynb is missing")}
