"""Student ids in any script: one id per student however the file spells it, and a safe folder for each."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from autograder.students import (
    MAX_ID_CHARS,
    NameInFile,
    folder_name,
    id_problem,
    normalise,
    notebook_key,
    resolve,
    student_key,
    student_of_file,
)


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


# --- one student, however spelled ----------------------------------------------------------------------------

@pytest.mark.parametrize(("one", "other"), [
    ("김민준", nfd("김민준")),                 # macOS writes file names decomposed (NFD)
    ("Alice", "alice"),
    ("ALICE", "alice"),
    ("Straße", "STRASSE"),                    # full case folding, not just ASCII
    ("Seán", nfd("SEÁN")),
    ("Kim Minjun", "  kim\u3000 minjun "),    # the ideographic space of Korean input methods, runs of spaces
])
def test_spellings_of_one_student_share_a_key(one: str, other: str):
    assert student_key(one) == student_key(other)
    assert folder_name(one).casefold() == folder_name(other).casefold()


@pytest.mark.parametrize(("one", "other"), [("김민준", "김민정"), ("Kim Minjun", "KimMinjun"), ("kim", "kım"),
                                            ("alice", "alice2")])
def test_different_students_have_different_keys_and_folders(one: str, other: str):
    assert student_key(one) != student_key(other)
    assert folder_name(one).casefold() != folder_name(other).casefold()


def test_ids_are_kept_as_written_only_normalised():
    assert normalise(nfd("김민준")) == "김민준" and len(normalise(nfd("김민준"))) == 3
    assert normalise("  O'Brien,\u00a0Seán  ") == "O'Brien, Seán"
    assert normalise("Alice") == "Alice"  # case is kept; only comparison ignores it


@pytest.mark.parametrize("student", ["김민준", "Kim Minjun", "O'Brien, Seán", "j.doe@uni.edu", "smithjohn",
                                     "Zoë Ünal-Åberg", "محمد", "Иван Петров", "李小龙", "अनु", "s1234567",
                                     "Participant 1234567", "anon_k9x2p", "Mary_Jane", "a+b@x.org"])
def test_names_in_any_script_are_valid_ids(student: str):
    assert id_problem(normalise(student)) is None
    assert resolve(student) == (normalise(student), None)


@pytest.mark.parametrize(("raw", "problem"), [
    ("", "is empty"),
    ("..", "has no letter or digit"),
    (".", "has no letter or digit"),
    ("🙂", "has no letter or digit"),
    ("a/b", "contains '/'"),
    ("a\\b", "contains '\\\\'"),
    ("x\ny", "contains the control or invisible character U+000A"),
    ("x\0y", "contains the control or invisible character U+0000"),
    ("\u202eevil", "contains the control or invisible character U+202E"),  # right-to-left override: spoofing
    ("bad\udcffbyte", "contains the control or invisible character U+DCFF"),  # undecodable byte in a file name
    ("x" * (MAX_ID_CHARS + 1), f"is longer than {MAX_ID_CHARS} characters"),
])
def test_unusable_names_get_a_valid_unique_stand_in_and_a_reason(raw: str, problem: str):
    student, reason = resolve(raw)
    assert reason is not None and reason.endswith(problem) and "\n" not in reason
    assert student.startswith("invalid-") and id_problem(student) is None
    assert resolve(raw) == (student, reason)


def test_stand_ins_of_different_bad_names_differ():
    assert resolve("a/b")[0] != resolve("a\\b")[0] != resolve("a\nb")[0]


# --- folder names ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("student", ["alice", "Mary_Jane", "bob@example.edu", "김민준", "Kim Minjun", "Zoë",
                                     "O'Brien, Seán", "s1234567", "李小龙"])
def test_a_safe_id_is_its_own_folder(student: str):
    assert folder_name(student) == student


NASTY = ["..", ".", "", "a/b", "../../etc", "a\\b", "x\0y", "x\ny", "\u202eevil", "CON", "con", "nul.txt",
         "LPT1", "com9.ipynb", "name.", "name ", ".hidden", "-rf", "Kim: Minjun?", 'a"b<c>|d*', "x" * 300,
         "김" * 100, "kım", "Ali\u200cce", "bad\udcffbyte", "~tilde", "a~b"]


@pytest.mark.parametrize("student", NASTY)
def test_every_folder_name_is_one_safe_component(student: str, tmp_path: Path):
    name = folder_name(student)
    assert name and name not in (".", "..") and not name.startswith((".", "-", " ")) and not name.endswith((".", " "))
    assert not any(c in name for c in '/\\\0<>:"|?*') and name.isprintable()
    assert len(name.encode("utf-8")) <= 255 and name == unicodedata.normalize("NFC", name)
    assert name.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)),
                                              *(f"LPT{i}" for i in range(10))}
    made = tmp_path / "autograded" / name
    made.mkdir(parents=True)
    assert made.resolve().parent == (tmp_path / "autograded").resolve()  # it never leaves the folder
    assert folder_name(student) == name  # deterministic


def test_folder_names_never_collide_even_ignoring_case():
    students = {normalise(s) for s in NASTY if id_problem(normalise(s)) is None}
    students |= {"Kim Minjun", "Kim_Minjun", "Kim: Minjun", "Kim Minjun~", "CON", "CON~1", "김민준", "김민정",
                 "x" * 150, "x" * 151}
    keys = {student_key(s) for s in students}
    folders = {folder_name(s).casefold() for s in students}
    assert len(folders) == len(keys)


def test_a_folder_name_that_is_not_the_id_stays_readable():
    assert folder_name("Kim: Minjun, Dr.").startswith("Kim_Minjun,_Dr~")
    assert folder_name("x" * 300).startswith("x" * 50)
    assert folder_name("김" * 100).startswith("김" * 20)


# --- file names -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("filename", "expected"), [
    ("김민준.ipynb", NameInFile("김민준")),
    (nfd("김민준") + ".ipynb", NameInFile("김민준")),
    ("Kim Minjun.ipynb", NameInFile("Kim Minjun")),
    ("alice.IPYNB", NameInFile("alice")),
    ("bob@example.edu.ipynb", NameInFile("bob@example.edu")),
    # browser, Jupyter and file-manager copies
    ("김민준 (2).ipynb", NameInFile("김민준", copy=2)),
    ("markov(1).ipynb", NameInFile("markov", copy=1)),
    ("alice-Copy1.ipynb", NameInFile("alice", copy=1)),
    ("alice - Copy.ipynb", NameInFile("alice", copy=1)),
    ("alice - Copy (3).ipynb", NameInFile("alice", copy=3)),
    ("alice copy 2.ipynb", NameInFile("alice", copy=2)),
    ("김민준 - 복사본.ipynb", NameInFile("김민준", copy=1)),
    ("alice-Copy1 (1).ipynb", NameInFile("alice", copy=1)),
    ("(1).ipynb", NameInFile("(1)")),  # nothing left without the mark: it is the name
    ("fresh-copy.ipynb", NameInFile("fresh-copy")),  # Jupyter's copies are always numbered: a name, not a mark
    # Canvas "Download Submissions"
    ("smithjohn_12345_67890_markov.ipynb", NameInFile("smithjohn", "canvas", "12345")),
    ("smithjohn_LATE_12345_67890_markov (1).ipynb", NameInFile("smithjohn", "canvas", "12345", late=True)),
    ("smithjohn_late_12345_67890_markov-1.ipynb", NameInFile("smithjohn", "canvas", "12345", late=True)),
    ("김민준_12345_67890_markov.ipynb", NameInFile("김민준", "canvas", "12345")),
    ("anon_k9x2p_67890_markov.ipynb", NameInFile("anon_k9x2p", "canvas", "anon_k9x2p")),
    ("LATE_anon_k9x2p_67890_markov.ipynb", NameInFile("anon_k9x2p", "canvas", "anon_k9x2p", late=True)),
    # Moodle "Download all submissions", flat
    ("Kim Minjun_1234567_assignsubmission_file_markov.ipynb", NameInFile("Kim Minjun", "moodle", "1234567")),
    ("김민준_1234567_assignsubmission_file_markov.ipynb", NameInFile("김민준", "moodle", "1234567")),
])
def test_the_student_a_file_name_stands_for(filename: str, expected: NameInFile):
    assert student_of_file(filename) == expected


@pytest.mark.parametrize("filename", ["Markov.ipynb", "markov (1).ipynb", "markov-Copy1.ipynb", "MARKOV - Copy.ipynb",
                                      "markov.ipynb", nfd("markov.ipynb")])
def test_renamed_copies_of_a_notebook_share_its_key(filename: str):
    assert notebook_key(filename) == notebook_key("markov.ipynb")
    assert notebook_key(filename) != notebook_key("markov2.ipynb")
