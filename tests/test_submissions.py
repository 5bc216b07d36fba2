"""Finding submissions: nbgrader's submitted/, LMS folders and zips, and refusing unsafe or unusable ones."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import zipfile
from pathlib import Path

import pytest

from autograder import submissions as subs
from autograder.config import Assignment, Course, load_course
from autograder.errors import UserError
from autograder.submissions import discover, student_name

NOTEBOOK = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n'
JAN5 = dt.datetime(2026, 1, 5, 12, 34, 56, tzinfo=dt.UTC)


@pytest.fixture
def course(toy_root: Path) -> Course:
    return load_course(toy_root / "course.yml")


@pytest.fixture
def toy(course: Course) -> Assignment:
    return course.assignment("week00-toy")


def two_notebooks(assignment: Assignment) -> Assignment:
    return assignment.model_copy(update={"notebooks": ["part1.ipynb", "part2.ipynb"]})


def put(path: Path, data: bytes = NOTEBOOK, when: dt.datetime | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if when:
        os.utime(path, (when.timestamp(), when.timestamp()))
    return path


def sha(*parts: bytes) -> str:
    return hashlib.sha256(b"".join(parts)).hexdigest()


def make_zip(path: Path, entries: dict[str, bytes], when: tuple[int, ...] = (2026, 1, 5, 12, 34, 56)) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=when), data, zipfile.ZIP_DEFLATED)
    return path


# --- nbgrader's submitted/ ------------------------------------------------------------------------------------

def test_nbgrader_layout_with_timestamps_mtimes_and_students_who_did_not_submit(course: Course, toy: Assignment):
    submitted = course.root / "submitted"
    alice = put(submitted / "alice/week00-toy/toy.ipynb")
    (submitted / "alice/week00-toy/timestamp.txt").write_text("2026-01-05 12:34:56.123456 UTC\n")
    put(submitted / "bob/week00-toy/toy.ipynb", NOTEBOOK + b" ", when=JAN5)
    put(submitted / "carol/week01-other/other.ipynb")  # carol did not submit week00-toy
    put(submitted / ".DS_Store", b"junk")
    found = discover(course, toy)
    assert [s.student for s in found] == ["alice", "bob"]
    assert found[0].notebooks == {"toy.ipynb": alice} and found[0].problem is None
    assert found[0].content_hash == sha(NOTEBOOK)
    assert found[0].submitted_at == "2026-01-05T12:34:56+00:00"
    assert found[1].submitted_at == "2026-01-05T12:34:56+00:00"  # from the notebook's mtime
    assert found[1].content_hash == sha(NOTEBOOK + b" ")
    assert found[0].source == str(submitted / "alice/week00-toy")


@pytest.mark.parametrize(("stamp", "expected"), [
    ("2026-01-05 13:34:56.000001 +0100", "2026-01-05T12:34:56+00:00"),
    ("2026-01-05 12:34:56", "2026-01-05T12:34:56+00:00"),          # naive: UTC, as nbgrader reads it
    ("2026-01-05T07:34:56-05:00", "2026-01-05T12:34:56+00:00"),
    ("not a time at all", "2020-02-02T00:00:00+00:00"),            # unreadable: the notebook's mtime
])
def test_nbgrader_timestamps_are_read_as_utc(course: Course, toy: Assignment, stamp: str, expected: str):
    put(course.root / "submitted/alice/week00-toy/toy.ipynb", when=dt.datetime(2020, 2, 2, tzinfo=dt.UTC))
    (course.root / "submitted/alice/week00-toy/timestamp.txt").write_text(stamp)
    assert discover(course, toy)[0].submitted_at == expected


def test_missing_empty_and_oversized_notebooks_are_problems_not_failures(course: Course, toy: Assignment):
    assignment = two_notebooks(toy)
    submitted = course.root / "submitted"
    put(submitted / "alice/week00-toy/part1.ipynb")                      # part2 missing
    put(submitted / "bob/week00-toy/part1.ipynb", b"")                   # empty
    put(submitted / "bob/week00-toy/part2.ipynb")
    put(submitted / "carol/week00-toy/part1.ipynb")
    with (submitted / "carol/week00-toy/part2.ipynb").open("wb") as handle:
        handle.truncate(subs.NOTEBOOK_CAP + 1)                           # sparse: instant
    put(submitted / "dave/week00-toy/part1.ipynb")
    put(submitted / "dave/week00-toy/part2.ipynb", NOTEBOOK + b"\n")
    alice, bob, carol, dave = discover(course, assignment)
    assert alice.problem == "part2.ipynb is missing" and alice.notebooks is None
    assert bob.problem == "part1.ipynb is empty" and bob.notebooks is None
    assert carol.problem == "part2.ipynb is 20.0 MiB, over the 20 MiB limit"
    assert dave.problem is None and list(dave.notebooks or {}) == ["part1.ipynb", "part2.ipynb"]
    assert dave.content_hash == sha(NOTEBOOK, NOTEBOOK + b"\n")  # in the assignment's notebook order
    assert alice.content_hash != sha(NOTEBOOK)  # the problem is part of the hash
    assert discover(course, assignment)[0].content_hash == alice.content_hash  # but it is stable


def test_a_symlinked_notebook_is_a_problem(course: Course, toy: Assignment, tmp_path: Path):
    secret = put(tmp_path / "secret.ipynb")
    folder = course.root / "submitted/alice/week00-toy"
    folder.mkdir(parents=True)
    (folder / "toy.ipynb").symlink_to(secret)
    [alice] = discover(course, toy)
    assert alice.problem == "toy.ipynb is a symbolic link" and alice.notebooks is None


def test_a_bad_student_name_gets_a_safe_unique_stand_in(course: Course, toy: Assignment):
    put(course.root / "submitted/Mary Jane/week00-toy/toy.ipynb")
    put(course.root / "submitted/Mary_Jane/week00-toy/toy.ipynb")
    found = discover(course, toy)
    bad = next(s for s in found if s.problem)
    assert bad.student.startswith("invalid-Mary_Jane-") and bad.student != "Mary_Jane"
    assert bad.problem == "student name 'Mary Jane' is not allowed (only letters, digits and . _ @ + -)"
    assert bad.notebooks is None
    assert [s.problem for s in found if s.student == "Mary_Jane"] == [None]


@pytest.mark.parametrize("raw", ["..", ".", "a/b", "x\ny", "", "é"])
def test_student_names_that_are_not_plain_are_replaced(raw: str):
    name, problem = student_name(raw)
    assert problem and subs.STUDENT_NAME.fullmatch(name) and name not in (".", "..") and "\n" not in problem
    assert student_name(raw) == (name, problem)


def test_a_missing_submitted_folder_or_path_is_a_user_error(course: Course, toy: Assignment, tmp_path: Path):
    with pytest.raises(UserError, match="no submitted/ folder") as caught:
        discover(course, toy)
    assert str(course.root / "submitted") in str(caught.value)
    with pytest.raises(UserError, match="does not exist"):
        discover(course, toy, tmp_path / "nowhere")
    with pytest.raises(UserError, match="expected a folder"):
        discover(course, toy, put(tmp_path / "alice.ipynb"))


# --- LMS exports ----------------------------------------------------------------------------------------------

def test_an_lms_folder_of_student_notebooks(course: Course, toy: Assignment, tmp_path: Path):
    folder = tmp_path / "export"
    alice = put(folder / "alice.ipynb", when=JAN5)
    put(folder / "bob@example.edu.IPYNB")
    put(folder / "carol.pdf", b"%PDF")
    put(folder / "dave.ipynb", b"")
    put(folder / ".DS_Store", b"junk")
    (folder / "notes").mkdir()
    found = discover(course, toy, folder)
    assert [s.student for s in found] == ["alice", "bob@example.edu", "carol", "dave"]
    assert found[0].notebooks == {"toy.ipynb": alice} and found[0].submitted_at == "2026-01-05T12:34:56+00:00"
    assert found[0].content_hash == sha(NOTEBOOK)
    assert found[2].problem == "no notebook (.ipynb), only carol.pdf" and found[2].notebooks is None
    assert found[3].problem == "toy.ipynb is empty"


def test_folders_and_zips_need_a_one_notebook_assignment(course: Course, toy: Assignment, tmp_path: Path):
    put(tmp_path / "export/alice.ipynb")
    with pytest.raises(UserError, match="has 2 notebooks"):
        discover(course, two_notebooks(toy), tmp_path / "export")


def test_a_zip_is_unpacked_under_our_own_names(course: Course, toy: Assignment, tmp_path: Path):
    archive = make_zip(tmp_path / "export.zip", {
        "alice.ipynb": NOTEBOOK, "section-2/bob.ipynb": NOTEBOOK + b"\n", "__MACOSX/._alice.ipynb": b"\0\0",
        "section-2/": b"", "erin.docx": b"PK", "windows\\dave.ipynb": NOTEBOOK})
    scratch = tmp_path / "scratch"
    found = discover(course, toy, archive, scratch=scratch)
    assert [s.student for s in found] == ["alice", "bob", "dave", "erin"]
    alice, bob, dave, erin = found
    assert alice.notebooks == {"toy.ipynb": scratch / "alice/toy.ipynb"}
    assert (scratch / "alice/toy.ipynb").read_bytes() == NOTEBOOK
    assert bob.notebooks == {"toy.ipynb": scratch / "bob/toy.ipynb"} and bob.source == "zip:section-2/bob.ipynb"
    assert alice.content_hash == sha(NOTEBOOK)  # the same hash as the file on disk would have
    assert alice.submitted_at == "2026-01-05T12:34:56+00:00"
    assert dave.problem is None and dave.source == "zip:windows\\dave.ipynb"
    assert erin.problem == "no notebook (.ipynb), only erin.docx"
    assert sorted(p.relative_to(scratch).as_posix() for p in scratch.rglob("*") if p.is_file()) == \
        ["alice/toy.ipynb", "bob/toy.ipynb", "dave/toy.ipynb"]


def test_a_zip_without_scratch_uses_a_temporary_folder(course: Course, toy: Assignment, tmp_path: Path):
    [alice] = discover(course, toy, make_zip(tmp_path / "e.zip", {"alice.ipynb": NOTEBOOK}))
    assert alice.notebooks and alice.notebooks["toy.ipynb"].read_bytes() == NOTEBOOK
    assert not alice.notebooks["toy.ipynb"].is_relative_to(tmp_path)


def test_oversized_empty_and_duplicate_zip_entries_are_problems(course: Course, toy: Assignment, tmp_path: Path):
    big = b"{" + b" " * subs.NOTEBOOK_CAP + b"}"
    archive = make_zip(tmp_path / "e.zip", {"alice.ipynb": big, "bob.ipynb": b"", "a/carol.ipynb": NOTEBOOK,
                                            "b/carol.ipynb": NOTEBOOK, "dave.ipynb": NOTEBOOK})
    scratch = tmp_path / "scratch"
    alice, bob, carol, dave = discover(course, toy, archive, scratch=scratch)
    assert alice.problem == "toy.ipynb is 20.0 MiB, over the 20 MiB limit" and alice.notebooks is None
    assert bob.problem == "toy.ipynb is empty"
    assert carol.problem == "several notebooks for carol: a/carol.ipynb, b/carol.ipynb"
    assert dave.problem is None
    assert not (scratch / "alice").exists() and not (scratch / "carol").exists()


@pytest.mark.parametrize("entry", ["../evil.ipynb", "/abs.ipynb", "a/../../evil.ipynb", "C:/evil.ipynb",
                                   "..\\evil.ipynb"])
def test_a_zip_with_an_entry_outside_the_folder_is_refused(course: Course, toy: Assignment, tmp_path: Path,
                                                           entry: str):
    archive = make_zip(tmp_path / "e.zip", {"alice.ipynb": NOTEBOOK, entry: NOTEBOOK})
    with pytest.raises(UserError, match="points outside the zip") as caught:
        discover(course, toy, archive, scratch=tmp_path / "scratch")
    assert str(archive) in str(caught.value)
    assert not (tmp_path / "scratch").exists() and not (tmp_path / "evil.ipynb").exists()


def test_a_zip_with_a_symlink_is_refused(course: Course, toy: Assignment, tmp_path: Path):
    archive = tmp_path / "e.zip"
    with zipfile.ZipFile(archive, "w") as z:
        link = zipfile.ZipInfo("alice.ipynb")
        link.external_attr = 0o120777 << 16
        z.writestr(link, "/etc/passwd")
    with pytest.raises(UserError, match="symbolic link"):
        discover(course, toy, archive, scratch=tmp_path / "scratch")


def test_a_zip_with_too_many_entries_is_refused(course: Course, toy: Assignment, tmp_path: Path):
    archive = tmp_path / "e.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:
        for i in range(subs.ZIP_MAX_ENTRIES + 1):
            z.writestr(f"s{i}.ipynb", b"")
    with pytest.raises(UserError, match="has 10001 entries, over the limit of 10000"):
        discover(course, toy, archive, scratch=tmp_path / "scratch")


def test_a_zip_that_unpacks_too_big_is_refused(course: Course, toy: Assignment, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(subs, "ZIP_MAX_TOTAL", 3 * len(NOTEBOOK))  # 2 GiB for real would take minutes to build
    archive = make_zip(tmp_path / "e.zip", {f"s{i}.ipynb": NOTEBOOK for i in range(4)})
    with pytest.raises(UserError, match="would unpack to"):
        discover(course, toy, archive, scratch=tmp_path / "scratch")
    assert not (tmp_path / "scratch").exists()


def test_a_file_named_zip_that_is_not_one_is_a_user_error(course: Course, toy: Assignment, tmp_path: Path):
    with pytest.raises(UserError, match="not a readable zip file"):
        discover(course, toy, put(tmp_path / "export.zip", b"not a zip"))


def test_a_dangling_symlink_in_an_lms_folder_is_a_problem(course: Course, toy: Assignment, tmp_path: Path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "alice.ipynb").symlink_to(tmp_path / "gone.ipynb")
    [alice] = discover(course, toy, folder)
    assert alice.problem == "toy.ipynb is a symbolic link" and alice.notebooks is None
