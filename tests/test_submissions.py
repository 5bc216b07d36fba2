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
from autograder.students import id_problem
from autograder.submissions import Submission, discover

from .submission_files import SPLIT, at, nfd, split_course, split_notebook, toy_notebook, without_grade_ids

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


def test_names_with_spaces_or_in_any_script_are_students_and_bad_ones_get_a_stand_in(course: Course,
                                                                                       toy: Assignment):
    for name in ("Mary Jane", "Mary_Jane", "김민준", "bad\x01name"):
        put(course.root / f"submitted/{name}/week00-toy/toy.ipynb")
    found = discover(course, toy)
    assert {s.student: s.problem for s in found if not s.student.startswith("invalid-")} == \
        {"Mary Jane": None, "Mary_Jane": None, "김민준": None}
    [bad] = [s for s in found if s.problem]
    assert bad.student.startswith("invalid-bad_name-") and id_problem(bad.student) is None
    assert bad.problem == "student name 'bad\\x01name' contains the control or invisible character U+0001"
    assert bad.notebooks is None


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
    warnings: list[str] = []
    found = discover(course, toy, folder, warn=warnings.append)
    assert [s.student for s in found] == ["alice", "bob@example.edu", "dave"]
    assert found[0].notebooks == {"toy.ipynb": alice} and found[0].submitted_at == "2026-01-05T12:34:56+00:00"
    assert found[0].content_hash == sha(NOTEBOOK)
    assert found[2].problem == "toy.ipynb is empty"
    assert warnings == [f"{folder}: skipped 3 item(s) that are not submissions: .DS_Store, carol.pdf and notes/"]


def test_folders_and_zips_need_a_one_notebook_assignment(course: Course, toy: Assignment, tmp_path: Path):
    put(tmp_path / "export/alice.ipynb")
    with pytest.raises(UserError, match="has 2 notebooks"):
        discover(course, two_notebooks(toy), tmp_path / "export")


def test_a_zip_is_unpacked_under_our_own_names(course: Course, toy: Assignment, tmp_path: Path):
    archive = make_zip(tmp_path / "export.zip", {
        "alice.ipynb": NOTEBOOK, "section-2/bob.ipynb": NOTEBOOK + b"\n", "__MACOSX/._alice.ipynb": b"\0\0",
        "section-2/": b"", "erin.docx": b"PK", "windows\\dave.ipynb": NOTEBOOK,
        ".ipynb_checkpoints/alice-checkpoint.ipynb": NOTEBOOK})
    scratch = tmp_path / "scratch"
    warnings: list[str] = []
    found = discover(course, toy, archive, scratch=scratch, warn=warnings.append)
    assert [s.student for s in found] == ["alice", "bob", "dave"]
    alice, bob, dave = found
    assert alice.notebooks and alice.notebooks["toy.ipynb"].read_bytes() == NOTEBOOK
    assert bob.notebooks and bob.notebooks["toy.ipynb"].read_bytes() == NOTEBOOK + b"\n"
    assert bob.source == "zip:section-2/bob.ipynb"
    assert alice.content_hash == sha(NOTEBOOK)  # the same hash as the file on disk would have
    assert alice.submitted_at == "2026-01-05T12:34:56+00:00"
    assert dave.problem is None and dave.source == "zip:windows\\dave.ipynb"
    unpacked = sorted(p for p in scratch.rglob("*") if p.is_file())
    assert [p.relative_to(scratch).as_posix() for p in unpacked] == ["00000.ipynb", "00001.ipynb", "00002.ipynb"]
    assert warnings == [f"{archive}: skipped 3 item(s) that are not submissions: "
                        ".ipynb_checkpoints/alice-checkpoint.ipynb, __MACOSX/._alice.ipynb and erin.docx"]


def test_a_zip_without_scratch_uses_a_temporary_folder(course: Course, toy: Assignment, tmp_path: Path):
    [alice] = discover(course, toy, make_zip(tmp_path / "e.zip", {"alice.ipynb": NOTEBOOK}))
    assert alice.notebooks and alice.notebooks["toy.ipynb"].read_bytes() == NOTEBOOK
    assert not alice.notebooks["toy.ipynb"].is_relative_to(tmp_path)


def test_oversized_empty_and_duplicate_zip_entries(course: Course, toy: Assignment, tmp_path: Path):
    big = b"{" + b" " * subs.NOTEBOOK_CAP + b"}"
    archive = make_zip(tmp_path / "e.zip", {"alice.ipynb": big, "bob.ipynb": b"", "a/carol.ipynb": NOTEBOOK,
                                            "b/carol.ipynb": NOTEBOOK, "dave.ipynb": NOTEBOOK})
    scratch = tmp_path / "scratch"
    alice, bob, carol, dave = discover(course, toy, archive, scratch=scratch)
    assert alice.problem == "toy.ipynb is 20.0 MiB, over the 20 MiB limit" and alice.notebooks is None
    assert bob.problem == "toy.ipynb is empty"
    # two identical files of the same time: either is the submission, nothing to review
    assert carol.problem is None and carol.review == [] and carol.source == "zip:b/carol.ipynb"
    assert carol.notes == ["graded b/carol.ipynb, the newest of 2 files; not graded: a/carol.ipynb"]
    assert dave.problem is None
    assert len(list(scratch.iterdir())) == 3  # the oversized and the empty entries are not unpacked


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


# --- names in any script, copies, LMS download names ------------------------------------------------------------

def notebook_of(sub: Submission) -> str:
    assert sub.notebooks is not None, sub.problem
    [path] = sub.notebooks.values()
    return path.name


def test_a_korean_class_folder_resolves_nfd_names_copies_and_case_variants(course: Course, toy: Assignment,
                                                                           tmp_path: Path):
    folder = tmp_path / "export"
    put(folder / "김민준.ipynb", when=at(1))
    put(folder / (nfd("이서연") + ".ipynb"), when=at(1))           # saved on a Mac: decomposed Hangul
    put(folder / "Kim Minjun.ipynb", when=at(1))
    put(folder / "박지훈.ipynb", when=at(1))
    put(folder / "박지훈 (1).ipynb", NOTEBOOK + b"\n", when=at(3))  # downloaded again: the newest is graded
    put(folder / (nfd("박지훈 (2)") + ".ipynb"), when=at(2))
    put(folder / "Alice.ipynb", when=at(2))
    put(folder / "alice.ipynb", when=at(1))
    for stray in ("EXPECTED.json", "notes.txt", "photo.png", ".DS_Store"):
        put(folder / stray, b"x")
    warnings: list[str] = []
    found = discover(course, toy, folder, warn=warnings.append)
    assert [s.student for s in found] == ["Alice", "Kim Minjun", "김민준", "박지훈", "이서연"]
    alice, kim, minjun, jihun, seoyeon = found
    assert notebook_of(alice) == "Alice.ipynb" and alice.notes == [
        "graded Alice.ipynb, the newest of 2 files; not graded: alice.ipynb"]
    assert notebook_of(jihun) == "박지훈 (1).ipynb" and jihun.review == []
    assert jihun.content_hash == sha(NOTEBOOK + b"\n")
    assert jihun.notes == [f"graded 박지훈 (1).ipynb, the newest of 3 files; not graded: 박지훈.ipynb and "
                           f"{nfd('박지훈 (2)')}.ipynb"]
    assert seoyeon.problem is None and notebook_of(seoyeon) == nfd("이서연") + ".ipynb"
    assert all(s.problem is None for s in found) and kim.notes == minjun.notes == []
    assert warnings[0] == f"{folder}: skipped 4 item(s) that are not submissions: .DS_Store, EXPECTED.json, " \
                          "notes.txt and photo.png"
    assert warnings[1].startswith("2 student(s) handed in copies or renamed notebooks, graded as noted: Alice: ")
    assert len(warnings) == 2


def test_two_files_of_one_student_at_the_same_time_that_differ_need_review(course: Course, toy: Assignment,
                                                                           tmp_path: Path):
    folder = tmp_path / "export"
    put(folder / "김민준.ipynb", when=at(1))
    put(folder / "김민준 (1).ipynb", NOTEBOOK + b" ", when=at(1))
    [minjun] = discover(course, toy, folder)
    assert minjun.problem is None and notebook_of(minjun) == "김민준 (1).ipynb"  # the higher copy number
    assert minjun.review == ["김민준 (1).ipynb and 김민준.ipynb were handed in at the same time and differ; "
                             "김민준 (1).ipynb was graded"]
    assert minjun.content_hash != sha(NOTEBOOK + b" ")  # the doubt is part of the hash


def test_canvas_and_moodle_download_names_are_read_for_the_student(course: Course, toy: Assignment,
                                                                   tmp_path: Path):
    folder = tmp_path / "export"
    put(folder / "smithjohn_12345_67890_toy.ipynb", when=at(1))
    put(folder / "smithjohn_LATE_12345_67891_toy (1).ipynb", when=at(2))  # a resubmission, late
    put(folder / "smithjohn_99999_67892_toy.ipynb", when=at(1))           # another John Smith
    put(folder / "김민준_23456_67893_toy.ipynb", when=at(1))
    put(folder / "anon_k9x2p_67894_toy.ipynb", when=at(1))               # anonymous grading
    put(folder / "Lee Seoyeon_7654321_assignsubmission_file_toy.ipynb", when=at(1))  # Moodle, flat
    found = {s.student: s for s in discover(course, toy, folder)}
    assert set(found) == {"anon_k9x2p", "Lee Seoyeon", "smithjohn_12345", "smithjohn_99999", "김민준"}
    assert notebook_of(found["smithjohn_12345"]) == "smithjohn_LATE_12345_67891_toy (1).ipynb"
    assert {s.lms_id for s in found.values()} == {"anon_k9x2p", "7654321", "12345", "99999", "23456"}


def test_moodle_download_folders_in_a_folder_and_in_a_zip(course: Course, toy: Assignment, tmp_path: Path):
    folder = tmp_path / "export"
    put(folder / "Kim Minjun_1234567_assignsubmission_file/toy.ipynb")
    put(folder / "김민준_7654321_assignsubmission_file/Toy (1).ipynb")
    put(folder / "김민준_7654321_assignsubmission_file/.ipynb_checkpoints/Toy (1)-checkpoint.ipynb")
    found = discover(course, toy, folder)
    assert [(s.student, s.lms_id, s.problem) for s in found] == [("Kim Minjun", "1234567", None),
                                                               ("김민준", "7654321", None)]
    assert found[1].notes == ["graded Toy (1).ipynb as toy.ipynb"]
    archive = make_zip(tmp_path / "moodle.zip", {"Kim Minjun_1234567_assignsubmission_file/toy.ipynb": NOTEBOOK,
                                                 "김민준_7654321_assignsubmission_file/Toy (1).ipynb": NOTEBOOK})
    zipped = discover(course, toy, archive, scratch=tmp_path / "scratch")
    assert [(s.student, s.problem, s.content_hash) for s in zipped] == \
        [(s.student, None, s.content_hash) for s in found]
    assert zipped[0].source == "zip:Kim Minjun_1234567_assignsubmission_file/"


# --- nothing to grade ----------------------------------------------------------------------------------------

def test_an_empty_folder_or_zip_is_an_error_not_an_empty_batch(course: Course, toy: Assignment, tmp_path: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="is empty: there are no submissions to grade"):
        discover(course, toy, tmp_path / "empty")
    put(tmp_path / "strays/notes.txt", b"x")
    put(tmp_path / "strays/.DS_Store", b"x")
    with pytest.raises(UserError, match=r"holds no notebooks \(\.ipynb\) to grade, only \.DS_Store and notes\.txt"):
        discover(course, toy, tmp_path / "strays")
    with pytest.raises(UserError, match=r"holds no notebooks \(\.ipynb\) to grade, only readme\.txt"):
        discover(course, toy, make_zip(tmp_path / "e.zip", {"readme.txt": b"x"}))
    (course.root / "submitted/alice/week01-other").mkdir(parents=True)
    with pytest.raises(UserError, match="no submissions of week00-toy"):
        discover(course, toy)


def test_notebooks_one_level_deeper_are_named_with_what_to_pass(course: Course, toy: Assignment, tmp_path: Path):
    put(tmp_path / "download/section-1/alice.ipynb")
    with pytest.raises(UserError) as caught:
        discover(course, toy, tmp_path / "download")
    assert str(caught.value) == (f"{tmp_path / 'download'}: has no notebooks itself, but its folder section-1/ has; "
                                 f"pass --submissions {tmp_path / 'download/section-1'}")
    put(tmp_path / "download/section-2/bob.ipynb")
    with pytest.raises(UserError, match="but 2 of its folders have \\(section-1/ and section-2/\\); pass a folder"):
        discover(course, toy, tmp_path / "download")


def test_nbgrader_layout_is_found_inside_the_submissions_folder(course: Course, toy: Assignment, tmp_path: Path):
    put(tmp_path / "collected/alice/week00-toy/toy.ipynb")
    put(tmp_path / "collected/.DS_Store", b"x")
    assert [s.student for s in discover(course, toy, tmp_path / "collected")] == ["alice"]
    put(tmp_path / "exchange/submitted/bob/week00-toy/toy.ipynb")
    assert [s.student for s in discover(course, toy, tmp_path / "exchange")] == ["bob"]
    put(course.root / "submitted/carol/week00-toy/toy.ipynb")
    assert [s.student for s in discover(course, toy, course.root)] == ["carol"]  # never source/ or release/
    with pytest.raises(UserError, match=f"is one student's folder in nbgrader's layout .*; pass the folder that "
                                        f"holds the students' folders: --submissions {course.root / 'submitted'}$"):
        discover(course, toy, course.root / "submitted/carol/week00-toy")  # not a student called "toy"


def test_nbgrader_layout_inside_a_zip(course: Course, toy: Assignment, tmp_path: Path):
    archive = make_zip(tmp_path / "collected.zip", {
        "submitted/alice/week00-toy/Toy.ipynb": NOTEBOOK,
        "submitted/alice/week00-toy/timestamp.txt": b"2026-01-04 10:00:00.000000 UTC",
        "submitted/김민준/week00-toy/toy.ipynb": NOTEBOOK,
        "submitted/김민준/week01-other/other.ipynb": NOTEBOOK,   # another assignment
        "README.ipynb": NOTEBOOK})
    warnings: list[str] = []
    alice, minjun = discover(course, toy, archive, scratch=tmp_path / "scratch", warn=warnings.append)
    assert (alice.student, alice.problem, alice.submitted_at) == ("alice", None, "2026-01-04T10:00:00+00:00")
    assert alice.notes == ["graded Toy.ipynb as toy.ipynb"] and alice.source == "zip:submitted/alice/week00-toy/"
    assert (minjun.student, minjun.problem, minjun.submitted_at) == ("김민준", None, "2026-01-05T12:34:56+00:00")
    assert warnings[0] == (f"{archive}: skipped 2 item(s) that are not submissions: README.ipynb and "
                           "submitted/김민준/week01-other/other.ipynb")


# --- nbgrader's layout: renamed, duplicated and several notebooks ------------------------------------------------

@pytest.fixture
def released(toy_root: Path) -> Course:
    """The toy course with week00-split (two notebooks), released."""
    return split_course(toy_root)


def test_a_student_folder_with_a_renamed_or_duplicated_notebook(released: Course, tmp_path: Path):
    toy = released.assignment("week00-toy")
    folder = tmp_path / "submitted"
    reference, blank, wrong = (toy_notebook(released, k) for k in ("reference", "release", "wrong"))
    put(folder / "alice/week00-toy/Toy.ipynb", reference)                        # its only notebook, renamed
    put(folder / "bob/week00-toy/toy.ipynb", blank, when=at(3))                  # untouched release, newer
    put(folder / "bob/week00-toy/toy-Copy1.ipynb", reference, when=at(1))        # where the work is
    put(folder / "chloe/week00-toy/toy.ipynb", without_grade_ids(blank))         # the release, saved by Colab
    put(folder / "chloe/week00-toy/toy (1).ipynb", reference)
    put(folder / "carol/week00-toy/toy.ipynb", wrong, when=at(1))                # two attempts
    put(folder / "carol/week00-toy/toy (1).ipynb", reference, when=at(2))
    put(folder / "dan/week00-toy/toy.ipynb", reference)                          # identical copies
    put(folder / "dan/week00-toy/toy-Copy1.ipynb", reference)
    put(folder / "erin/week00-toy/toy.ipynb", b"")                               # an empty file and the work
    put(folder / "erin/week00-toy/toy (1).ipynb", reference)
    put(folder / "fay/week00-toy/toy.ipynb", blank)                              # nothing done, twice
    put(folder / "fay/week00-toy/toy (1).ipynb", blank)
    put(folder / "Gil/week00-toy/toy.ipynb", blank, when=at(1))                  # one student, two spellings
    put(folder / "gil/week00-toy/toy.ipynb", reference, when=at(2))
    found = {s.student: s for s in discover(released, toy, folder)}
    assert sorted(found) == ["alice", "bob", "carol", "chloe", "dan", "erin", "fay", "gil"]
    assert all(s.problem is None for s in found.values())
    graded = {student: notebook_of(s) for student, s in found.items()}
    assert graded == {"alice": "Toy.ipynb", "bob": "toy-Copy1.ipynb", "chloe": "toy (1).ipynb",
                      "carol": "toy (1).ipynb", "dan": "toy.ipynb", "erin": "toy (1).ipynb", "fay": "toy.ipynb",
                      "gil": "toy.ipynb"}
    assert found["gil"].source == str(folder / "gil/week00-toy")
    assert [s for s, sub in found.items() if sub.review] == ["carol"]
    assert found["carol"].review == ["2 notebooks could be toy.ipynb: toy (1).ipynb and toy.ipynb; toy (1).ipynb, "
                                     "the newest, was graded"]
    assert found["alice"].notes == ["graded Toy.ipynb as toy.ipynb"]
    assert found["bob"].notes == ["graded toy-Copy1.ipynb as toy.ipynb; toy.ipynb unchanged from the release"]
    assert found["erin"].notes == ["not graded: toy.ipynb (empty or unreadable)", "graded toy (1).ipynb as toy.ipynb"]
    assert found["dan"].notes == ["graded toy.ipynb; toy-Copy1.ipynb identical to it"]
    assert found["fay"].notes == ["toy (1).ipynb and toy.ipynb are unchanged from the release; graded toy.ipynb"]
    assert found["gil"].notes[0].startswith(f"graded {folder / 'gil/week00-toy'}, the newest of 2 folders")


def test_several_notebooks_are_matched_by_the_grade_ids_they_hold(released: Course, tmp_path: Path):
    split = released.assignment(SPLIT)
    part1, part2 = (split_notebook(released, "reference", p) for p in ("part1.ipynb", "part2.ipynb"))
    folder = tmp_path / "submitted"
    put(folder / f"dana/{SPLIT}/part1.ipynb", part1)
    put(folder / f"dana/{SPLIT}/part2.ipynb", part2)
    put(folder / f"eve/{SPLIT}/first.ipynb", part1)                    # renamed
    put(folder / f"eve/{SPLIT}/second.ipynb", part2)
    put(folder / f"finn/{SPLIT}/part2.ipynb", part1)                   # swapped names
    put(folder / f"finn/{SPLIT}/part1.ipynb", part2)
    put(folder / f"gus/{SPLIT}/Part1 (1).ipynb", without_grade_ids(part1))  # no grade ids left: by name
    put(folder / f"gus/{SPLIT}/part2.ipynb", part2)
    put(folder / f"hana/{SPLIT}/part1.ipynb", part1)
    put(folder / f"hana/{SPLIT}/scratch.ipynb", NOTEBOOK)              # holds none of the assignment's cells
    found = {s.student: s for s in discover(released, split, folder)}
    names = {s: {n: p.name for n, p in (sub.notebooks or {}).items()} for s, sub in found.items()}
    assert names["dana"] == {"part1.ipynb": "part1.ipynb", "part2.ipynb": "part2.ipynb"}
    assert names["eve"] == {"part1.ipynb": "first.ipynb", "part2.ipynb": "second.ipynb"}
    assert names["finn"] == {"part1.ipynb": "part2.ipynb", "part2.ipynb": "part1.ipynb"}
    assert names["gus"] == {"part1.ipynb": "Part1 (1).ipynb", "part2.ipynb": "part2.ipynb"}
    assert found["dana"].content_hash == found["eve"].content_hash == found["finn"].content_hash
    assert found["hana"].problem == "part2.ipynb is missing"
    assert found["hana"].notes == ["not graded: scratch.ipynb (none of the assignment's notebooks)"]
    assert all(not s.review for s in found.values())
