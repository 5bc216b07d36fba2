"""Messages in the student's language: the catalogs are complete and consistent, and a submission's feedback comes
back in the language of its notebook (``metadata.autograder.lang``) for the same checks and the same score."""

from __future__ import annotations

import ast
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from babel.messages.pofile import read_po

from autograder import i18n
from autograder.check import CheckReport, PublicCheck
from autograder.grading import grade
from autograder.harness import TestResult
from autograder.i18n import _, language_of, use_language
from autograder.pages import feedback_html
from autograder.reports import feedback_markdown, gradescope_json
from autograder.results import GradeResult, Status
from autograder.store import SCHEMA_VERSION, Store

from .conftest import REPO, cli, week1_course

HANGUL = re.compile(r"[\uac00-\ud7a3]")
KO_PO = i18n.LOCALE_DIR / "ko" / "LC_MESSAGES" / "autograder.po"
WEEK1 = "week01-markov"


def _catalog(path: Path, locale: str | None = None):
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def _ids(message) -> tuple[str, ...]:
    return tuple(message.id) if isinstance(message.id, tuple | list) else (message.id,)


def _strings(message) -> tuple[str, ...]:
    return tuple(message.string) if isinstance(message.string, tuple | list) else (message.string,)


def test_the_template_holds_every_marked_message(tmp_path: Path):
    """A message added to the code or a hidden check without `make i18n` would silently stay English."""
    fresh = tmp_path / "fresh.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg", "-k", "N_",
                    "-k", "ngettext:1,2", "--ignore-dirs", ".* _* lab release solutions source examples benchmarks "
                    "deploy docker", "-o", str(fresh), "."], cwd=REPO, check=True, timeout=120)
    extracted = {_ids(m) for m in _catalog(fresh) if m.id}
    committed = {_ids(m) for m in _catalog(i18n.LOCALE_DIR / "autograder.pot") if m.id}
    assert extracted - committed == set(), "messages missing from autograder.pot: run `make i18n`"


def test_every_message_has_a_korean_translation_with_the_same_placeholders():
    template = [m for m in _catalog(i18n.LOCALE_DIR / "autograder.pot") if m.id]
    korean = _catalog(KO_PO, "ko")
    assert len(template) > 100
    problems = []
    for message in template:
        found = korean.get(message.id)
        if found is None or found.fuzzy or not all(_strings(found)):
            problems.append(f"untranslated: {_ids(message)[0]}")
            continue
        wanted = i18n.placeholders(_ids(message)[0])
        for text in _strings(found):
            if i18n.placeholders(text) != wanted:
                problems.append(f"placeholders differ: {_ids(message)[0]!r} -> {text!r}")
    assert problems == []
    assert i18n.missing("ko") == []


def test_missing_lists_untranslated_and_fuzzy_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    locale = tmp_path / "locale"
    (locale / "ko" / "LC_MESSAGES").mkdir(parents=True)
    (locale / "autograder.pot").write_text('msgid ""\nmsgstr ""\n\nmsgid "one"\nmsgstr ""\n\nmsgid "two"\nmsgstr ""\n\n'
                                           'msgid "three"\nmsgstr ""\n', encoding="utf-8")
    (locale / "ko" / "LC_MESSAGES" / "autograder.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\nmsgid "one"\nmsgstr "하나"\n\n'
        '#, fuzzy\nmsgid "two"\nmsgstr "둘"\n', encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALE_DIR", locale)
    i18n.translations.cache_clear()
    try:
        assert i18n.missing("ko") == ["two", "three"]
        with use_language("ko"):
            assert (_("one"), _("two"), _("three")) == ("하나", "two", "three")  # fuzzy and missing: English
    finally:
        i18n.translations.cache_clear()


def test_the_missing_command_exits_0_when_complete_and_names_an_unknown_language(tmp_path: Path):
    done = cli("i18n", "missing", "--lang", "ko", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ko: 0 message(s) without a translation" in done.stdout
    unknown = cli("i18n", "missing", "--lang", "xx", cwd=tmp_path)
    assert unknown.returncode != 0 and "no catalog for language 'xx'" in unknown.stdout + unknown.stderr
    assert "Traceback" not in unknown.stdout + unknown.stderr


def test_language_of_reads_the_release_stamp_and_falls_back_to_the_first_language():
    nb = nbformat.v4.new_notebook(metadata={"autograder": {"lang": "ko"}})
    assert language_of(nb, ["en", "ko"]) == "ko"
    assert language_of(nb, ["en"]) == "en"  # a language the course does not have
    assert language_of(nbformat.v4.new_notebook(), ["en", "ko"]) == "en"
    assert language_of({"metadata": {"autograder": {"lang": 3}}}, ["en", "ko"]) == "en"


def test_placeholders_are_filled_in_either_language():
    with use_language("ko"):
        text = _("Ready to submit: all {total} public checks pass.", total=7)
    assert HANGUL.search(text) and "7" in text and "{" not in text
    with use_language("en"):
        assert _("Ready to submit: all {total} public checks pass.", total=7) == \
            "Ready to submit: all 7 public checks pass."


def test_check_report_lines_follow_the_notebook_language(tmp_path: Path):
    checks = [PublicCheck("check-a", "passed"), PublicCheck("check-b", "not attempted")]
    korean = CheckReport(tmp_path / "markov.ipynb", WEEK1, checks=checks, lang="ko")
    english = CheckReport(tmp_path / "markov.ipynb", WEEK1, checks=checks, lang="en")
    assert english.verdict == "Not ready yet: 1 of 2 public checks do not pass yet."
    assert HANGUL.search(korean.verdict) and "1" in korean.verdict and "2" in korean.verdict
    assert HANGUL.search(korean.status_text("not attempted")) and english.status_text("not attempted") == \
        "not attempted"
    assert korean.to_dict()["lang"] == "ko" and korean.to_dict()["checks"][1]["status_text"] == "시도하지 않음"


def _result(lang: str) -> GradeResult:
    tests = [TestResult("t::a", "test_a", "this check did not run", 2.0, False, "this check failed"),
             TestResult("t::b", "test_b", "b", 1.0, True, "")]
    return GradeResult("민준", WEEK1, "h", Status.graded, score=1.0, max_score=3.0, tests=tests, lang=lang,
                       late_seconds=3 * 3600 + 60, due_at="2026-09-14T23:59:59+00:00",
                       submitted_at="2026-09-15T03:00:59+00:00")


def test_feedback_pages_render_in_the_results_language():
    with use_language("ko"):
        md, html = feedback_markdown(_result("ko")), feedback_html(_result("ko"), "마르코프")
    assert HANGUL.search(md.replace("민준", "").replace("마르코프", ""))
    assert "3시간 1분" in md and "this check failed" not in md  # recorded English fixed lines are translated
    assert '<html lang="ko">' in html and "this check failed" not in html
    with use_language("en"):
        md, html = feedback_markdown(_result("en")), feedback_html(_result("en"), "Markov")
    assert not HANGUL.search(md.replace("민준", "")) and "3 h 1 min" in md and "this check failed" in md
    assert '<html lang="en">' in html


def test_the_gradescope_export_is_in_the_results_language():
    data = gradescope_json(_result("ko"))  # whatever the exporting process's language
    failed, passed = data["tests"]
    assert HANGUL.search(failed["name"]) and HANGUL.search(failed["output"]) and passed["output"] == ""
    assert HANGUL.search(data["output"].replace("민준", ""))
    assert gradescope_json(_result("en"))["tests"][0]["output"] == "this check failed"


def test_a_version_5_gradebook_gains_the_language_column(tmp_path: Path):
    db = tmp_path / "gradebook.db"
    with Store(db) as store:
        store.record(_result("ko"), "2026-09-15T03:00:59+00:00", "submitted/민준")
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE runs DROP COLUMN lang")
        conn.execute("PRAGMA user_version = 5")
    with Store(db) as store:
        (old,) = store.latest(WEEK1)
        assert old.lang == ""  # recorded before languages were: the base language
        store.record(_result("ko"), "2026-09-15T03:00:59+00:00", "submitted/민준")
        (new,) = store.latest(WEEK1)
        assert new.lang == "ko"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def _stamped(source: Path, target: Path, lang: str) -> None:
    nb = nbformat.read(source, as_version=4)
    nb.metadata.setdefault("autograder", {})["lang"] = lang
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)


@pytest.fixture(scope="module")
def graded_in_two_languages(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, GradeResult]]:
    """Week 1's reference and one known-wrong submission, each handed in from a Korean and an English notebook,
    graded in one batch in the sandbox."""
    root = tmp_path_factory.mktemp("i18n") / "course"
    course = week1_course(root)
    folder = root / "handed-in"
    solutions = REPO / "solutions" / WEEK1
    for lang in ("ko", "en"):
        _stamped(solutions / "markov.ipynb", folder / f"right-{lang}.ipynb", lang)
        _stamped(solutions / "wrong" / "nll_sum.ipynb", folder / f"wrong-{lang}.ipynb", lang)
    batch = grade(course, course.assignment(WEEK1), submissions=folder, jobs=2)
    return root, {r.student: r for r in batch.results}


def test_korean_and_english_notebooks_get_feedback_in_their_language(graded_in_two_languages):
    root, results = graded_in_two_languages
    for name in ("right", "wrong"):
        ko, en = results[f"{name}-ko"], results[f"{name}-en"]
        assert (ko.lang, en.lang) == ("ko", "en")
        assert ko.score == en.score and ko.max_score == en.max_score  # same checks, same score
        assert [t.test_id for t in ko.tests] == [t.test_id for t in en.tests]
        assert [t.passed for t in ko.tests] == [t.passed for t in en.tests]
        assert all(HANGUL.search(t.description) for t in ko.tests if not t.pending)
        assert not any(HANGUL.search(t.description) for t in en.tests)
        for lang in ("ko", "en"):
            folder = root / "feedback" / f"{name}-{lang}" / WEEK1
            md, html = (folder / "feedback.md").read_text(), (folder / "feedback.html").read_text()
            assert bool(HANGUL.search(md)) == (lang == "ko") and f'<html lang="{lang}">' in html
            assert bool(HANGUL.search(html)) == (lang == "ko")
            data = json.loads((root / "autograded" / f"{name}-{lang}" / WEEK1 / "result.json").read_text())
            assert data["lang"] == lang
    assert results["right-ko"].score == results["right-ko"].max_score
    failed_ko = [t for t in results["wrong-ko"].tests if not t.passed]
    failed_en = [t for t in results["wrong-en"].tests if not t.passed]
    assert failed_ko and [t.test_id for t in failed_ko] == [t.test_id for t in failed_en]
    assert results["wrong-ko"].score < results["wrong-ko"].max_score
    assert all(HANGUL.search(t.message) for t in failed_ko)  # the checks' own failure messages, in Korean
    assert not any(HANGUL.search(t.message) for t in failed_en)
    with Store(root / "gradebook.db") as store:
        assert {r.student: r.lang for r in store.latest(WEEK1)} == {n: r.lang for n, r in results.items()}


def test_check_prints_its_lines_in_the_notebooks_language(tmp_path: Path):
    """`autograder check` on week 1's reference handed in from a Korean notebook: the table, the timing line and
    the verdict are Korean; from an English one, English."""
    for lang in ("ko", "en"):
        notebook = tmp_path / lang / "markov.ipynb"
        _stamped(REPO / "solutions" / WEEK1 / "markov.ipynb", notebook, lang)
        done = cli("check", str(notebook), cwd=REPO)
        assert done.returncode == 0, done.stdout + done.stderr
        verdict = done.stdout.strip().splitlines()[-1]
        if lang == "ko":
            assert verdict.startswith("제출할 준비가 되었습니다.") and "공개 검사" in done.stdout
        else:
            assert verdict.startswith("Ready to submit: all") and not HANGUL.search(done.stdout)


@pytest.mark.parametrize(("doc", "description"), [
    ("rows sum to one\n    for every state.\n\n    Details a student need not read.",
     "rows sum to one for every state."),
    ("Counts are exact.\n    Then more, which is not part of the description.", "Counts are exact."),
    ("A wrapped first sentence,\n    ending here. Then another\n    sentence.",
     "A wrapped first sentence, ending here."),
    ("no full stop anywhere\n    still one paragraph\n\n    next paragraph",
     "no full stop anywhere still one paragraph"),
    (None, ""),
])
def test_a_check_is_described_by_its_docstrings_first_sentence(doc: str | None, description: str):
    """A description wrapped over two docstring lines is not cut at the first line's end (students read it)."""
    assert i18n.first_sentence(doc) == description


def test_every_hidden_check_description_is_a_whole_sentence():
    """The extractor and the recorder agree, and no description stops mid-sentence (at a comma, say)."""
    messages = [message for _, _, message, comments in _hidden_messages() if comments and
                comments[0].startswith("description of")]
    assert messages, "the extractor finds the checks' descriptions"
    cut = [m for m in messages if m.rstrip().endswith((",", ";", " the", " and", " a"))]
    assert not cut, cut


def _hidden_messages():
    for path in sorted((REPO / "tests" / "hidden").glob("*/test_*.py")):
        with path.open("rb") as handle:
            yield from i18n.extract_hidden_checks(handle, {"_": None}, [], {})


def _binds_underscore(tree: ast.AST) -> list[int]:
    """Lines that bind the name ``_`` (unpacking, loops, with-as, imports aside): in a module that translates
    with ``_()``, such a line turns a failure message into a TypeError."""
    lines = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        elif isinstance(node, ast.For | ast.AsyncFor):  # (a comprehension has a scope of its own)
            targets = [node.target]
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            targets = [node.optional_vars]
        for target in targets:
            if any(isinstance(n, ast.Name) and n.id == "_" for n in ast.walk(target)):
                lines.append(getattr(node, "lineno", getattr(target, "lineno", 0)))
    return lines


def test_hidden_checks_never_rebind_the_translation_function():
    """``data, _ = ...`` in a hidden check replaces gettext's ``_``: the student would get a TypeError in place of
    the check's message. Name unused values ``unused`` or ``_unused`` instead."""
    offenders = {}
    for path in sorted((REPO / "tests" / "hidden").rglob("*.py")):
        tree = ast.parse(path.read_text())
        translates = any(isinstance(n, ast.ImportFrom) and any(a.name == "_" for a in n.names) for n in ast.walk(tree))
        if translates and (lines := _binds_underscore(tree)):
            offenders[str(path.relative_to(REPO))] = lines
    assert not offenders, offenders
