"""Grade what Jupyter would run: each week's reference as students really save it, graded in the sandbox, and
`autograder check` reaching the same verdict on every one.

Each variant is the week's reference (or blank release) after something students do to notebooks: metadata lost
(Colab, VS Code, a fresh notebook), an answer cell deleted, a stub duplicated with the answer in the copy, all
answers merged into one cell, answers retyped in fresh cells, a public check edited, an old nbformat, a
byte-order mark, Windows line endings with single-string sources, ``%%time`` on every answer cell, continuation
lines that start with ``!=`` or ``%``, shell escapes and magics left in the notebook, a Google Colab save, a VS
Code save, every cell copied into a fresh notebook, a public check deleted, answers split in two cells or moved
after their checks, a notebook saved with big outputs, nbformat 4.1.
"""

from __future__ import annotations

import ast
import copy
import json
import shutil
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
import pytest

from autograder.check import CheckReport, check_notebook
from autograder.config import Course, load_course
from autograder.grading import grade
from autograder.notebooks import grade_id, is_public_check, is_solution
from autograder.results import GradeResult, Status

from .conftest import REPO

WEEKS = {  # week -> (its notebook, the answer cell the "deleted" variant removes)
    "week01-markov": ("markov.ipynb", "markov-bigrams"),
    "week02-rnn": ("rnn.ipynb", "lstm-step"),
    "week03-attention": ("attention.ipynb", "attention"),
    "week04-transformer": ("transformer.ipynb", "generate-with-cache"),
    "week05-gan": ("gan.ipynb", "gan-step"),
    "week06-vae": ("vae.ipynb", "mc-kl"),
}
Variant = Callable[[nbformat.NotebookNode, nbformat.NotebookNode, str], "nbformat.NotebookNode | bytes"]


def _answers(nb: nbformat.NotebookNode) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and is_solution(c)]


def stripped(ref, release, deleted):
    nb = copy.deepcopy(ref)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    return nb


def answer_deleted(ref, release, deleted):
    nb = copy.deepcopy(ref)
    nb.cells = [c for c in nb.cells if grade_id(c) != deleted]
    return nb


def duplicated_stub(ref, release, deleted):
    """Every answer cell left as the release's stub, with a copy below it (metadata and all, as Jupyter copies)
    holding the answer."""
    nb = copy.deepcopy(ref)
    stubs = {grade_id(c): c.source for c in release.cells}
    for index in reversed(_answers(nb)):
        answer = copy.deepcopy(nb.cells[index])
        answer.id = f"{answer.id}-copy"[-64:]
        nb.cells[index].source = stubs[grade_id(answer)]
        nb.cells.insert(index + 1, answer)
    return nb


def merged(ref, release, deleted):
    """All answers in the first answer cell, the other answer cells deleted."""
    nb = copy.deepcopy(ref)
    indexes = _answers(nb)
    nb.cells[indexes[0]].source = "\n\n\n".join(nb.cells[i].source for i in indexes)
    nb.cells = [c for i, c in enumerate(nb.cells) if i not in indexes[1:]]
    return nb


def retyped(ref, release, deleted):
    """Every answer cell deleted and its answer typed into a fresh cell (no metadata) in its place."""
    nb = copy.deepcopy(ref)
    for index in _answers(nb):
        nb.cells[index] = nbformat.v4.new_code_cell("# my answer\n" + nb.cells[index].source)
    return nb


def check_edited(ref, release, deleted):
    nb = copy.deepcopy(ref)
    first_check = next(c for c in nb.cells if is_public_check(c))
    first_check.source = "assert True  # the check was in my way"
    return nb


def nbformat_3(ref, release, deleted):
    return nbformat.writes(nbformat.convert(copy.deepcopy(ref), 3), version=3).encode("utf-8")


def byte_order_mark(ref, release, deleted):
    return b"\xef\xbb\xbf" + nbformat.writes(ref).encode("utf-8")


def windows_single_strings(ref, release, deleted):
    data = json.loads(nbformat.writes(ref))
    for cell in data["cells"]:
        cell["source"] = "".join(cell["source"]).replace("\n", "\r\n")
    return json.dumps(data, indent=1).replace("\n", "\r\n").encode("utf-8")


def cell_magic(ref, release, deleted):
    """``%%time`` on every answer cell (IPython runs the body in the notebook's namespace)."""
    nb = copy.deepcopy(ref)
    for index in _answers(nb):
        nb.cells[index].source = "%%time\n" + nb.cells[index].source
    return nb


# continuation lines that start like a magic or a shell escape, as black formats long expressions
CONTINUATIONS = '''
_same = (len("abc")
         != 4)
_label = ("%d characters"
          % 3)
'''
# IPython syntax a student leaves in a notebook: a shell escape, line magics, a captured cell, a file written
SHELL_AND_MAGICS = [
    "!echo this runs in the sandbox's shell\nfiles = !ls\n%time _t = sum(range(10))\n%who_ls function",
    "%%capture captured\nprint('kept in captured, not printed')",
    "%%writefile helper_module.py\nHELPER = 'written by the notebook'",
    "from helper_module import HELPER\nassert HELPER == 'written by the notebook'",
]


def continuation_lines(ref, release, deleted):
    nb = copy.deepcopy(ref)
    for index in _answers(nb):
        nb.cells[index].source += "\n" + CONTINUATIONS
    return nb


def shell_and_magics(ref, release, deleted):
    nb = copy.deepcopy(ref)
    nb.cells[1:1] = [nbformat.v4.new_code_cell(source) for source in SHELL_AND_MAGICS]
    return nb


def colab(ref, release, deleted):
    """As Google Colab saves a notebook it opened: nbformat 4.0 (no cell ids), its own cell metadata instead of
    nbgrader's, and its own notebook metadata beside the release's stamp."""
    data = json.loads(nbformat.writes(ref))
    data["nbformat_minor"] = 0
    data["metadata"] = {"colab": {"provenance": []}, "kernelspec": {"name": "python3", "display_name": "Python 3"},
                        "language_info": {"name": "python"}, "autograder": data["metadata"]["autograder"]}
    for number, cell in enumerate(data["cells"]):
        cell.pop("id", None)
        cell["metadata"] = {"id": f"c{number:04d}xyZ"}
        if cell["cell_type"] == "code":
            cell["metadata"]["colab"] = {"base_uri": "https://localhost:8080/"}
    return json.dumps(data, indent=2).encode("utf-8")


def check_deleted(ref, release, deleted):
    nb = copy.deepcopy(ref)
    first_check = next(i for i, c in enumerate(nb.cells) if is_public_check(c))
    del nb.cells[first_check]
    return nb


def split(ref, release, deleted):
    """Every answer of several top-level statements split in two cells: the first statement in the answer cell,
    the rest in a new cell below it."""
    nb = copy.deepcopy(ref)
    for index in reversed(_answers(nb)):
        tree = ast.parse(nb.cells[index].source)
        if len(tree.body) < 2:
            continue
        lines = nb.cells[index].source.splitlines()
        second = tree.body[1]
        cut = min([second.lineno, *(d.lineno for d in getattr(second, "decorator_list", []))]) - 1
        nb.cells[index].source = "\n".join(lines[:cut])
        nb.cells.insert(index + 1, nbformat.v4.new_code_cell("\n".join(lines[cut:])))
    return nb


def moved_answers(ref, release, deleted):
    """Every answer cell moved to the end, after the public checks that use them (which then fail as the
    notebook runs top to bottom, as they would in Jupyter)."""
    nb = copy.deepcopy(ref)
    answers = [nb.cells[i] for i in _answers(nb)]
    nb.cells = [c for i, c in enumerate(nb.cells) if i not in _answers(nb)] + answers
    return nb


def vscode(ref, release, deleted):
    """As VS Code's notebook editor saves one: nbgrader's cell metadata gone, its own in their place."""
    nb = stripped(ref, release, deleted)
    nb.metadata["vscode"] = {"interpreter": {"hash": "0" * 64}}
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.metadata["vscode"] = {"languageId": "python"}
    return nb


def fresh_copy(ref, release, deleted):
    """Every cell copied into a new notebook: new cell ids, no metadata at all, not even the release's stamp."""
    fresh = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                              "language": "python"}})
    for cell in ref.cells:
        make = nbformat.v4.new_code_cell if cell.cell_type == "code" else nbformat.v4.new_markdown_cell
        fresh.cells.append(make(cell.source))
    return fresh


def big_outputs(ref, release, deleted):
    """Saved after running, with outputs: a long printed text and an image in the first code cells."""
    nb = copy.deepcopy(ref)
    code = [c for c in nb.cells if c.cell_type == "code"]
    code[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 80 + "\n") for _ in range(40_000)]
    code[1].outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo" + "A" * 2_000_000})]
    return nb


def nbformat_4_1(ref, release, deleted):
    data = json.loads(nbformat.writes(ref))
    data["nbformat_minor"] = 1
    for cell in data["cells"]:
        cell.pop("id", None)
    return json.dumps(data).encode("utf-8")


def blank(ref, release, deleted):
    return copy.deepcopy(release)


FULL_MARKS = {"reference": lambda ref, release, deleted: ref, "stripped": stripped,
              "duplicated-stub": duplicated_stub, "merged": merged, "retyped": retyped,
              "nbformat-3": nbformat_3, "byte-order-mark": byte_order_mark,
              "windows-single-strings": windows_single_strings, "check-edited": check_edited,
              "cell-magic": cell_magic, "continuation-lines": continuation_lines,
              "shell-and-magics": shell_and_magics, "colab": colab, "check-deleted": check_deleted, "split": split,
              "vscode": vscode, "fresh-copy": fresh_copy, "big-outputs": big_outputs, "nbformat-4.1": nbformat_4_1}
VARIANTS: dict[str, Variant] = {**FULL_MARKS, "moved-answers": moved_answers, "answer-deleted": answer_deleted,
                                "blank": blank}
TAMPERED = {"check-edited": "modified", "check-deleted": "deleted"}


def _course(root: Path, week: str) -> Course:
    """A copy of the real course holding this week's release and hidden checks (results are written there)."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "course.yml", root / "course.yml")
    for part in ("source", f"release/{week}", f"tests/hidden/{week}"):
        shutil.copytree(REPO / part, root / part)
    return load_course(root / "course.yml")


class Week:
    """One week's variants, graded in one batch and checked one by one."""

    def __init__(self, week: str, results: dict[str, GradeResult], checks: dict[str, CheckReport]):
        self.week, self.results, self.checks = week, results, checks


@pytest.fixture(scope="module", params=list(WEEKS))
def week(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Week:
    name = request.param
    notebook, deleted = WEEKS[name]
    course = _course(tmp_path_factory.mktemp(name) / "course", name)
    ref = nbformat.read(REPO / "solutions" / name / notebook, as_version=4)
    release = nbformat.read(course.release_dir(course.assignment(name)) / notebook, as_version=4)
    folder = course.root / "incoming"
    folder.mkdir()
    for variant, make in VARIANTS.items():
        made = make(ref, release, deleted)
        path = folder / f"{variant}.ipynb"
        path.write_bytes(made) if isinstance(made, bytes) else nbformat.write(made, path)
    batch = grade(course, course.assignment(name), submissions=folder, jobs=2)
    paths = [folder / f"{variant}.ipynb" for variant in VARIANTS]
    with ProcessPoolExecutor(max_workers=2) as pool:  # one Jupyter kernel each
        checks = dict(zip(VARIANTS, pool.map(check_notebook, paths), strict=True))
    return Week(name, {r.student: r for r in batch.results}, checks)


def _failed(result: GradeResult) -> list[tuple[str, str]]:
    return [(t.name, t.message) for t in result.tests if not t.passed]


@pytest.mark.parametrize("variant", list(FULL_MARKS))
def test_correct_notebooks_get_full_marks_however_they_were_saved(week: Week, variant: str):
    result = week.results[variant]
    assert result.status == Status.graded, (result.status, result.reason, result.review)
    assert result.max_score > 0 and result.score == result.max_score, _failed(result)
    assert result.review == [] and result.cell_errors == []
    if variant in TAMPERED:  # the public check is restored, and what was done to it recorded
        assert len(result.tampered) == 1 and result.tampered[0].endswith(f": {TAMPERED[variant]}"), result.tampered
    else:
        assert result.tampered == []


def test_answers_after_their_checks_fail_those_checks_and_still_earn_full_marks(week: Week):
    """Run top to bottom, the public checks above the moved answers fail (as in Jupyter); the hidden checks run
    after the whole notebook and find every answer."""
    result, report = week.results["moved-answers"], week.checks["moved-answers"]
    assert result.status == Status.graded and result.score == result.max_score > 0, _failed(result)
    assert result.cell_errors and all(e["error_type"] == "NameError" for e in result.cell_errors), result.cell_errors
    assert {e["cell"] for e in result.cell_errors} == {c.cell for c in report.checks if c.status == "failed"}
    assert not report.ok


def test_an_edited_public_check_is_restored_and_recorded(week: Week):
    result = week.results["check-edited"]
    assert len(result.tampered) == 1 and result.tampered[0].endswith(": modified")
    assert result.tampered[0].split(":")[0].startswith("check-")


def test_a_deleted_answer_cell_needs_review_naming_it(week: Week):
    deleted = WEEKS[week.week][1]
    result = week.results["answer-deleted"]
    assert result.status == Status.needs_review
    assert len(result.review) == 1 and f"answer cell {deleted} is missing" in result.review[0]
    assert 0 < result.score < result.max_score  # the top-to-bottom program's score, for the reviewer


def test_the_blank_release_scores_zero_and_needs_no_review(week: Week):
    result = week.results["blank"]
    assert (result.status, result.score, result.review) == (Status.graded, 0, [])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_check_reaches_the_graders_verdict(week: Week, variant: str):
    result, report = week.results[variant], week.checks[variant]
    assert report.review == result.review and report.tampered == result.tampered
    if variant in FULL_MARKS:
        assert [c.status for c in report.checks if c.status != "passed"] == [], report.checks
        assert report.cell_errors == [] and report.ok == (variant not in TAMPERED)
    if variant == "answer-deleted":
        assert not report.ok and WEEKS[week.week][1] in report.review[0]
