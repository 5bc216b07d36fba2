"""One master notebook, two languages: twins, the release of every language, language-neutral checksums, tamper
detection, parity and the Korean reference's marks (tests/fixtures/bilingual: English base, Korean twins)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from autograder.config import Course, load_course
from autograder.errors import AuthoringError, ConfigError
from autograder.harness import release_notebook
from autograder.languages import code_checksum, neutral_code, parity_problems
from autograder.notebooks import cells_by_grade_id, read_notebook
from autograder.program import build_program, program_without_release
from autograder.release import check_release, release

from .conftest import FIXTURES, REPO, cli

ID, NB = "week00-hello", "hello.ipynb"


@pytest.fixture
def bi_root(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    shutil.copytree(FIXTURES / "bilingual", root, ignore=shutil.ignore_patterns("release", "solutions", "__pycache__"))
    return root


@pytest.fixture
def bi(bi_root: Path) -> Course:
    course = load_course(bi_root / "course.yml")
    release(course)
    return course


def _source(root: Path) -> Path:
    return root / "source" / ID / NB


# --- course.yml -----------------------------------------------------------------------------------------------

def _with_languages(root: Path, languages: list[str], assignment_id: str | None = None) -> Path:
    path = root / "course.yml"
    data = yaml.safe_load(path.read_text())
    data["languages"] = languages
    if assignment_id:
        data["assignments"][0]["id"] = assignment_id
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(("languages", "assignment_id", "expected"), [
    (["en", "kr"], None, "languages[1]: unknown language code 'kr' (use an ISO 639 code such as en or ko)"),
    (["en", "Korean"], None, "unknown language code 'Korean'"),
    (["en", "ko", "en"], None, "languages[2]: duplicate language 'en'"),
    (["en", "ko"], "ko", "assignments[0].id: 'ko' is also a language code in `languages`"),
])
def test_language_mistakes_are_one_sentence(bi_root: Path, languages, assignment_id, expected):
    path = _with_languages(bi_root, languages, assignment_id)
    with pytest.raises(ConfigError) as info:
        load_course(path)
    assert str(info.value).startswith(str(path)) and expected in str(info.value) and "\n" not in str(info.value)


def test_without_languages_the_course_is_english_only():
    course = load_course(FIXTURES / "toycourse" / "course.yml")
    assert course.languages == ["en"] and course.base_language == "en"
    assert load_course(REPO / "course.yml").languages == ["en", "ko"]


# --- language-neutral code ------------------------------------------------------------------------------------

def test_neutral_code_ignores_comments_and_docstrings_only():
    base = 'def f(x):\n    """Double x."""\n    return 2 * x  # twice\n'
    assert neutral_code(base) == neutral_code('def f(x):\n    """x의 두 배."""\n    # 두 배\n    return 2 * x\n')
    assert code_checksum(base) != code_checksum('def f(x):\n    """Double x."""\n    return 3 * x\n')
    assert code_checksum('print("hi")') != code_checksum('print("안녕")')  # a string that is not a docstring
    assert code_checksum("%matplotlib inline\nx = 1  # one") == code_checksum("%matplotlib inline\nx = 1  # 하나")
    assert code_checksum("%matplotlib inline\nx = 1") != code_checksum("%matplotlib agg\nx = 1")


# --- release --------------------------------------------------------------------------------------------------

def test_release_writes_every_language(bi: Course):
    a = bi.assignment(ID)
    en, ko = read_notebook(bi.release_dir(a) / NB), read_notebook(bi.release_dir(a, "ko") / NB)
    assert bi.release_dir(a, "ko") == bi.root / "release" / "ko" / ID
    assert en.metadata.autograder.lang == "en" and ko.metadata.autograder.lang == "ko"
    assert (bi.release_dir(a, "ko") / "data.csv").read_bytes() == (bi.source_dir(a) / "data.csv").read_bytes()
    assert len(en.cells) == len(ko.cells) == 7  # the twins are gone from both
    assert not any("lang:ko" in c.metadata.get("tags", []) for c in en.cells + ko.cells)
    assert ko.cells[0].source.startswith("# 수 더하기") and en.cells[0].source.startswith("# Adding numbers")
    stub = cells_by_grade_id(ko)["answer-add"].source
    assert '"""a + b를 반환합니다."""' in stub and "raise NotImplementedError()" in stub and "return a + b" not in stub
    assert ko.cells[-1].source == en.cells[-1].source == "print(add(2, 3))"  # no twin: the base text everywhere
    for gid in ("setup", "check-add", "plot-helper"):
        cell_en, cell_ko = cells_by_grade_id(en)[gid], cells_by_grade_id(ko)[gid]
        assert cell_en.metadata.nbgrader.grade_id == cell_ko.metadata.nbgrader.grade_id
        assert cell_en.metadata.autograder.code_checksum == cell_ko.metadata.autograder.code_checksum
        assert cell_en.metadata.nbgrader.checksum != cell_ko.metadata.nbgrader.checksum  # nbgrader's own, per text
    reference = read_notebook(bi.solutions_dir(a, "ko") / NB)
    answer = cells_by_grade_id(reference)["answer-add"].source
    assert "# 합을 그대로 돌려줍니다" in answer and "return a + b" in answer and "BEGIN SOLUTION" not in answer
    assert parity_problems(bi, a) == []


def test_check_covers_every_language(bi: Course):
    assert check_release(bi) == []
    nb = nbformat.read(_source(bi.root), as_version=4)
    nb.cells[1].source += "\n추가 문장."
    nbformat.write(nb, _source(bi.root))
    a = bi.assignment(ID)
    assert check_release(bi) == sorted([bi.release_dir(a, "ko") / NB, bi.solutions_dir(a, "ko") / NB])


def _twin(kind: str, source: str, lang: str = "ko", **metadata) -> nbformat.NotebookNode:
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    return make(source, metadata={"tags": [f"lang:{lang}"], **metadata})


def _edit(root: Path, change) -> None:
    nb = nbformat.read(_source(root), as_version=4)
    change(nb.cells)
    nbformat.write(nb, _source(root))


@pytest.mark.parametrize(("change", "expected"), [
    (lambda cells: setattr(cells[7], "source", cells[7].source.replace("return a + b", "return a - b")),
     "cell answer-add: its ko twin differs in code, not only in comments and docstrings: the base has "
     "`return a + b` where the twin has `return a - b`"),
    (lambda cells: cells.__setitem__(3, _twin("markdown", "import numpy as np")),
     "cell setup: its ko twin is a markdown cell, the base cell a code cell"),
    (lambda cells: cells[9].metadata.update(nbgrader={"grade": True, "grade_id": "check-add-ko", "locked": True,
                                                      "points": 0, "schema_version": 3, "solution": False}),
     "cell check-add: its ko twin carries nbgrader metadata"),
    (lambda cells: cells.insert(0, _twin("markdown", "# 머리말")), "cell 1 (tagged lang:ko) has no base cell"),
    (lambda cells: cells.insert(2, _twin("markdown", "# 또 하나")), "cell intro has two ko twins (cell 3 is"),
    (lambda cells: cells.insert(2, _twin("markdown", "# Titre", lang="fr")),
     "cell 3 (tagged lang:fr) is a twin in a language course.yml does not translate into"),
    (lambda cells: setattr(cells[7], "source", cells[7].source.replace("    ### END SOLUTION", "")),
     "cell answer-add: its ko twin does not have the base cell's solution/hidden-test markers"),
])
def test_a_malformed_twin_is_refused_in_one_sentence(bi_root: Path, change, expected: str):
    _edit(bi_root, change)
    course = load_course(bi_root / "course.yml")
    with pytest.raises(AuthoringError) as info:
        release(course)
    message = str(info.value)
    assert message.startswith(str(_source(bi_root))) and expected in message and "\n" not in message
    assert not (bi_root / "release").exists()  # nothing written


def test_a_korean_solution_line_in_a_public_file_blocks_the_release(bi_root: Path):
    (bi_root / "source" / ID / "notes.txt").write_text("# 합을 그대로 돌려줍니다\n")
    with pytest.raises(AuthoringError, match="release blocked, it would leak"):
        release(load_course(bi_root / "course.yml"))


def test_the_cli_names_the_notebook_and_the_cell(bi_root: Path):
    _edit(bi_root, lambda cells: setattr(cells[3], "source", "import numpy  # 배열"))
    result = cli("release", cwd=bi_root)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "hello.ipynb" in result.stderr and "cell setup" in result.stderr and "import numpy" in result.stderr


# --- tamper detection -----------------------------------------------------------------------------------------

def _korean_student(course: Course) -> nbformat.NotebookNode:
    return read_notebook(course.solutions_dir(course.assignment(ID), "ko") / NB)


def test_untouched_korean_notebook_is_not_flagged(bi: Course):
    a = bi.assignment(ID)
    student = _korean_student(bi)
    assert program_without_release(student).tampered == []
    for release_lang in ("ko", "en"):  # against its own release, and against the English one (metadata lost)
        assert build_program(student, read_notebook(bi.release_dir(a, release_lang) / NB)).tampered == []
    assert release_notebook(bi, a, NB, student) == bi.release_dir(a, "ko") / NB
    del student.metadata["autograder"]
    assert release_notebook(bi, a, NB, student) == bi.release_dir(a) / NB


def test_editing_the_code_of_a_locked_cell_in_the_korean_notebook_is_flagged(bi: Course):
    a = bi.assignment(ID)
    student = _korean_student(bi)
    cell = cells_by_grade_id(student)["setup"]
    cell.source = cell.source.replace("# 배열 계산에 씁니다", "# 주석만 바꿨습니다")  # a comment: no change to the code
    assert program_without_release(student).tampered == []
    cell.source = "import numpy as np\nnp.random.seed(0)  # 배열 계산에 씁니다"
    assert program_without_release(student).tampered == ["setup: modified"]
    for release_lang in ("ko", "en"):
        assert build_program(student, read_notebook(bi.release_dir(a, release_lang) / NB)).tampered == \
            ["setup: modified"]


# --- parity and the Korean reference --------------------------------------------------------------------------

def test_parity_names_a_release_out_of_step(bi: Course):
    a = bi.assignment(ID)
    path = bi.release_dir(a, "ko") / NB
    nb = nbformat.read(path, as_version=4)
    cells_by_grade_id(nb)["check-add"].metadata.nbgrader.points = 5
    nbformat.write(nb, path)
    assert parity_problems(bi, a) == [f"ko: release/{NB} cell 5 (check-add) differs from the en release in code, "
                                      "grade id, points or checksum"]


def test_the_real_course_is_in_step_in_every_language():
    course = load_course(REPO / "course.yml")
    for assignment in course.assignments:
        assert parity_problems(course, assignment) == [], assignment.id


def test_validate_grades_the_korean_reference_and_renders_hangul(bi: Course):
    """Through the local sandbox, as students are graded: the Korean reference earns full marks, and its figure
    with Hangul labels draws without a missing glyph (hidden check test_korean_labels_render)."""
    result = cli("validate", "--jobs", "2", cwd=bi.root)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split("│")[2].strip(): line for line in result.stdout.splitlines() if line.count("│") > 3}
    assert set(rows) == {"parity:ko", "reference", "reference:ko", "blank"}
    assert "3/3" in rows["reference:ko"] and " ok " in rows["reference:ko"]


def test_an_untouched_korean_copy_beside_the_work_is_set_aside(bi: Course, tmp_path: Path):
    from autograder.submissions import discover

    a = bi.assignment(ID)
    folder = tmp_path / "submitted" / "ana" / ID
    folder.mkdir(parents=True)
    shutil.copy(bi.release_dir(a, "ko") / NB, folder / NB)  # the Korean release, never edited
    shutil.copy(bi.solutions_dir(a, "ko") / NB, folder / "hello-Copy1.ipynb")  # where the work is
    (found,) = discover(bi, a, tmp_path / "submitted")
    assert found.review == [] and found.notes == ["graded hello-Copy1.ipynb as hello.ipynb; hello.ipynb unchanged "
                                                  "from the release"]


def test_check_runs_a_korean_notebook_against_its_release(bi: Course):
    result = cli("check", str(bi.solutions_dir(bi.assignment(ID), "ko") / NB), cwd=bi.root)
    assert result.returncode == 0 and "Locked cells were changed" not in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize(("week", "notebook"), [("week07-diffusion", "diffusion"), ("week08-flow", "flow")])
def test_korean_twins_reapply_identically_and_refuse_changed_english(tmp_path: Path, week: str, notebook: str):
    """tools/ko_twins.py rewrites a week's twins from its translation file byte for byte, and refuses (naming the
    cell) once the English a Korean cell was written from has changed: a stale translation is never written."""
    import json
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    source = repo / "source" / week / f"{notebook}.ipynb"
    copy = tmp_path / source.name
    shutil.copy(source, copy)
    translations = repo / "tools" / "ko" / f"{week}.py"
    run = [sys.executable, str(repo / "tools" / "ko_twins.py"), "apply", str(copy), str(translations)]
    assert subprocess.run(run, capture_output=True, cwd=repo).returncode == 0
    assert copy.read_bytes() == source.read_bytes()
    nb = json.loads(copy.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    cell["source"] = "An edited sentence.\n" + "".join(cell["source"])
    copy.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    refused = subprocess.run(run, capture_output=True, text=True, cwd=repo)
    assert refused.returncode != 0 and cell["id"] in refused.stderr, refused.stderr
