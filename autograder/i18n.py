"""Messages in the student's language: gettext catalogs (domain ``autograder``) managed with Babel.

Student-facing text is written in English (the base language) and marked ``_("text {name}", name=value)``: named
placeholders, never f-strings, so ``pybabel extract`` finds every message (``make i18n``). Translators work in
``autograder/locale/<lang>/LC_MESSAGES/autograder.po``; a missing or fuzzy translation falls back to English
(``autograder i18n missing`` lists them). The hidden checks' descriptions are their docstrings' first sentences,
extracted by :func:`extract_hidden_checks` and translated where they are recorded.

The language is chosen per submission from its notebook (``metadata.autograder.lang``, written by release) on
the trusted side only: the sandboxed runner never needs a catalog.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import gettext
import io
import os
import re
import string
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import IO, Any

DOMAIN = "autograder"
BASE = "en"
LOCALE_DIR = Path(__file__).with_name("locale")
ENV = "AUTOGRADER_LANG"  # the language of a process started for one submission (validate's pytest run)

_current: ContextVar[str | None] = ContextVar("autograder_language", default=None)


def available() -> list[str]:
    """The base language and every language with a catalog, in that order."""
    found = sorted(p.name for p in LOCALE_DIR.iterdir() if (p / "LC_MESSAGES" / f"{DOMAIN}.po").is_file()) \
        if LOCALE_DIR.is_dir() else []
    return [BASE, *(lang for lang in found if lang != BASE)]


def current() -> str:
    return _current.get() or os.environ.get(ENV) or BASE


def set_language(lang: str | None) -> None:
    """This context's language from now on (a grading worker, for the submission in hand)."""
    _current.set(lang or None)


@contextlib.contextmanager
def use_language(lang: str | None) -> Iterator[None]:
    """Messages inside the block in ``lang`` (None or "": the process default)."""
    token = _current.set(lang or None)
    try:
        yield
    finally:
        _current.reset(token)


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of ``lang``: its ``.mo`` when that is at least as new as the ``.po``, else the ``.po``
    compiled in memory (fuzzy entries left out, as ``pybabel compile`` does), else none (English)."""
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    po, mo = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    if lang == BASE or not po.is_file():
        return gettext.NullTranslations()
    if mo.is_file() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as handle:
            return gettext.GNUTranslations(handle)
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def _fill(text: str, fmt: Mapping[str, Any]) -> str:
    return text.format(**fmt) if fmt else text


def N_(msgid: str) -> str:  # noqa: N802 - gettext's name for "extract this, translate it later"
    """Mark a constant for extraction; it is translated where it is used (``_(CONSTANT)``)."""
    return msgid


def _(msgid: str, **fmt: Any) -> str:
    """``msgid`` in the current language, its ``{name}`` placeholders filled from ``fmt``."""
    return _fill(gettext_(msgid), fmt)


def ngettext(singular: str, plural: str, n: int, **fmt: Any) -> str:
    """The singular or plural form for ``n`` in the current language; ``{n}`` is filled too."""
    return _fill(translations(current()).ngettext(singular, plural, n), {"n": n, **fmt})


def gettext_(msgid: str) -> str:
    """Plain lookup without formatting; "" stays "" (gettext would give the catalog's header)."""
    return translations(current()).gettext(msgid) if msgid else msgid


def ngettext_(singular: str, plural: str, n: int) -> str:
    return translations(current()).ngettext(singular, plural, n)


def language_of(nb: Any, languages: list[str] | None = None) -> str:
    """The language a notebook was released in (``metadata.autograder.lang``); absent or not one of
    ``languages`` (default: those with a catalog), the first of them."""
    from .languages import language_of as released_in

    return released_in(nb, languages or available())


def course_languages(course: Any) -> list[str]:
    """The course's languages (``course.yml`` ``languages``: the first is the base), else those with a catalog."""
    return list(getattr(course, "languages", None) or available())


def placeholders(text: str) -> set[str]:
    """The ``{name}`` fields of a message (what a translation must keep)."""
    try:
        return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    except ValueError:
        return {"<unbalanced braces>"}


# --- Babel extraction --------------------------------------------------------------------------------------

KEYWORDS = {"_": None, "ngettext": (1, 2)}


SENTENCE_ENDS = (".", "!", "?", ":")


def first_sentence(doc: str | None) -> str:
    """A check's description: its docstring's first sentence, joined across the lines it is wrapped over (the
    first line alone can stop mid-sentence), or the first paragraph where no line ends one."""
    words: list[str] = []
    for line in (doc or "").strip().splitlines():
        if not line.strip():
            break
        words.append(line.strip())
        if line.rstrip().endswith(SENTENCE_ENDS):
            break
    text = " ".join(words)
    if len(words) > 1 and (end := re.search(r"[.!?](?=\s)", text[len(words[0]):])):  # a sentence ends mid-line
        text = text[:len(words[0]) + end.end()]
    return text


def extract_hidden_checks(fileobj: IO[bytes], keywords: Mapping[str, Any], comment_tags: list[str],
                          options: Mapping[str, Any]) -> Iterator[tuple[int, str | None, Any, list[str]]]:
    """Babel extractor for hidden checks: the ``_()`` messages, and the first docstring sentence of every
    ``test_*`` function (what the student sees as the check's description)."""
    from babel.messages.extract import extract_python

    source = fileobj.read()
    yield from extract_python(io.BytesIO(source), keywords, comment_tags, options)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            first = first_sentence(ast.get_docstring(node))
            if first:
                yield node.body[0].lineno, None, first, [f"description of {node.name}"]


def missing(lang: str) -> list[str]:
    """The template's messages that ``lang`` has no usable (non-empty, non-fuzzy) translation for."""
    from babel.messages.pofile import read_po

    with (LOCALE_DIR / f"{DOMAIN}.pot").open("rb") as handle:
        template = read_po(handle)
    po = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.is_file():
        return [str(m.id) for m in template if m.id]
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    out = []
    for message in template:
        if not message.id:
            continue
        found = catalog.get(message.id)
        strings = found.string if found is not None else None
        empty = not strings or (isinstance(strings, tuple | list) and not all(strings))
        if found is None or found.fuzzy or empty:
            out.append(message.id if isinstance(message.id, str) else message.id[0])
    return out
