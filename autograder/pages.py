"""HTML for people: each student's feedback page, the class dashboard and the course gradebook.

Rendered with Jinja2 templates (``autograder/templates``) with autoescaping on, so text from submissions (messages
carry student values) is inert. Pages are self-contained: inline CSS, plots as base64 PNG, nothing from the network.
What a student sees comes from the fields of their GradeResult only (descriptions and student-safe messages),
never from the hidden checks' source.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2
from nbformat import NotebookNode

from .i18n import _, current
from .notebooks import grade_id, read_notebook
from .reports import MESSAGE_CAP, _num, late_text, translated
from .results import GradeResult

TEMPLATES = Path(__file__).with_name("templates")


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             extensions=["jinja2.ext.i18n"])
    # `_("text {name}", name=...)` in templates is autograder.i18n's: the current language, placeholders filled;
    # the result is a plain string, so autoescaping still escapes it (and the values in it)
    env.globals.update(num=_num, cap=_cap, late_of=lambda r: late_text(r.late_seconds), _=_, tr=translated,
                       page_lang=current)
    return env


def _cap(text: str, cap: int = MESSAGE_CAP) -> str:
    text = str(text)
    return text if len(text) <= cap else text[: cap - 1] + "…"


def headings_of(nb: NotebookNode) -> dict[str, str]:
    """grade id -> the heading of the section the cell is in (the nearest Markdown heading above it), so a student
    reads "2.1 Counting bigrams" rather than a cell number or an id."""
    found: dict[str, str] = {}
    heading = ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in str(cell.source).splitlines():
                if line.lstrip().startswith("#"):
                    heading = line.lstrip("# ").strip()
        gid = grade_id(cell)
        if gid and heading:
            found[gid] = heading
    return found


@functools.cache
def release_headings(release_dir: Path, notebooks: tuple[str, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in notebooks:
        try:
            found.update(headings_of(read_notebook(release_dir / name)))
        except Exception:  # noqa: BLE001 - a missing release only loses the headings
            continue
    return found


def _where(label: str, headings: dict[str, str]) -> str:
    heading = headings.get(label)
    return _("in “{heading}”", heading=heading) if heading else label


def feedback_html(result: GradeResult, title: str = "", headings: dict[str, str] | None = None) -> str:
    """A student's feedback page: score, lateness, each check's description and message, limits, their own cell
    errors under the section heading, and the staff's comment; readable on a phone."""
    headings = headings or {}
    errors = [{"where": _where(str(e.get("cell", "?")), headings), "error_type": e.get("error_type", "error"),
               "message": e.get("message", "")} for e in result.cell_errors]
    return environment().get_template("feedback.html.j2").render(
        r=result, title=title or result.assignment, errors=errors, late=late_text(result.late_seconds))


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
