"""The class dashboard (`autograder report`) and the course gradebook (`autograder gradebook`).

What an instructor opens first: how the class scored, which checks most students fail, which known-wrong
families (the mistakes ``tests/hidden/<id>/wrong/*.yml`` describe) they fell into, how long grading took, who was
late or could not be graded and why, and a row per student linking to their feedback page. One self-contained
HTML file per assignment: plots are PNGs embedded as base64, CSS inline, no script and nothing from the network.
"""

from __future__ import annotations

import base64
import io
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .config import Assignment, Course
from .known_wrong import load_specs
from .pages import render
from .reports import _component, _num, atomic_write, late_text
from .results import GradeResult, Status
from .roster import Student, load_roster
from .store import Store
from .students import folder_name, student_key

REPORTS = "reports"


def _png(fig: Any) -> str:
    """A matplotlib figure as a data: URI (then closed, so a class of 300 does not pile up figures)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(height: float = 3.2, width: float = 6.4) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")  # no display: the plots only ever become PNGs
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def _whole_numbers(axis: Any) -> None:
    """Counts of students are whole numbers; so are their ticks."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


@dataclass
class Plot:
    title: str
    alt: str
    uri: str
    wide: bool = False  # a bar per check or family: the page's full width


def score_plot(results: list[GradeResult], max_score: float) -> Plot:
    fig, ax = _figure()
    scores = [r.final_score for r in results if r.status != Status.error]
    bins = max(5, min(20, int(max_score) + 1)) if max_score else 10
    ax.hist(scores, bins=bins, range=(0, max_score or None), color="#4c72b0", edgecolor="white")
    ax.set_xlabel(f"final score (of {_num(max_score)}, penalties applied)")
    ax.set_ylabel("students")
    _whole_numbers(ax.yaxis)
    return Plot("Score distribution", f"histogram of {len(scores)} final scores", _png(fig))


def pass_rates(results: list[GradeResult]) -> pd.DataFrame:
    """Per check: how many ran it, how many passed, the rate; hardest first."""
    rows = [{"check": t.description or t.name, "passed": t.passed} for r in results for t in r.tests
            if not t.pending]  # a part waiting for a person has not failed
    if not rows:
        return pd.DataFrame(columns=["check", "students", "passed", "rate"])
    frame = pd.DataFrame(rows).groupby("check", sort=False)["passed"].agg(["count", "sum"]).reset_index()
    frame.columns = ["check", "students", "passed"]
    frame["rate"] = frame["passed"] / frame["students"]
    return frame.sort_values(["rate", "check"]).reset_index(drop=True)


def pass_rate_plot(rates: pd.DataFrame) -> Plot:
    fig, ax = _figure(max(2.0, 0.28 * len(rates) + 1), 9.0)
    labels = [c if len(c) <= 60 else c[:59] + "…" for c in rates["check"]]
    ax.barh(labels[::-1], (rates["rate"] * 100)[::-1], color="#55a868")
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of graded students passing (hardest at the top)")
    return Plot("Pass rate per check", f"pass rates of {len(rates)} checks, hardest first", _png(fig), True)


def families(course: Course, assignment: Assignment, results: list[GradeResult]) -> list[dict[str, Any]]:
    """The known-wrong families the class fell into: a student is in one when every check it must fail failed
    for them and they passed some check (a blank notebook fails everything: it made no particular mistake); most
    students first."""
    try:
        specs = load_specs(course.hidden_tests_dir(assignment) / "wrong", assignment)
    except Exception:  # noqa: BLE001 - a broken spec is `validate`'s to report; the dashboard goes on without it
        specs = []
    found = []
    for spec in specs:
        students = [r.student for r in results if any(t.passed for t in r.tests) and all(
            any(t.name == name and not t.passed for t in r.tests) for name in spec.fails)]
        if students:
            found.append({"family": spec.description, "count": len(students), "students": students})
    return sorted(found, key=lambda f: (-f["count"], f["family"]))


def families_plot(found: list[dict[str, Any]]) -> Plot:
    fig, ax = _figure(max(2.0, 0.28 * len(found) + 1), 9.0)
    labels = [f["family"] if len(f["family"]) <= 60 else f["family"][:59] + "…" for f in found]
    ax.barh(labels[::-1], [f["count"] for f in found][::-1], color="#c44e52")
    ax.set_xlabel("students")
    _whole_numbers(ax.xaxis)
    return Plot("Known-wrong families the class fell into", f"{len(found)} known mistakes by students", _png(fig),
                True)


def time_plot(results: list[GradeResult]) -> Plot:
    fig, ax = _figure()
    timed = sorted((r for r in results if r.duration_s), key=lambda r: r.duration_s)
    ax.bar(range(len(timed)), [r.duration_s for r in timed], color="#8172b2")
    ax.set_xlabel("submissions, fastest to slowest")
    ax.set_ylabel("seconds to grade")
    ax.set_xticks([])
    return Plot("Grading time per submission", f"grading times of {len(timed)} submissions", _png(fig))


def _rel(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()


def report_context(course: Course, assignment: Assignment, results: list[GradeResult], roster: list[Student],
                   out_dir: Path) -> dict[str, Any]:
    graded = [r for r in results if r.status in (Status.graded, Status.needs_review)]
    max_score = max((r.max_score for r in results), default=0.0)
    rates = pass_rates(graded)
    fam = families(course, assignment, graded)
    plots = [score_plot(results, max_score)]
    if len(rates):
        plots.append(pass_rate_plot(rates))
    if fam:  # else the page lists the failing checks' most common messages instead
        plots.append(families_plot(fam))
    plots.append(time_plot(results))
    failing = Counter((t.description or t.name, t.message) for r in graded for t in r.tests
                      if not t.passed and not t.pending and t.manual is None)
    manual = [t for r in graded for t in r.tests if t.pending or t.manual is not None]
    late = [r for r in results if r.late_seconds > 0]
    ungradable = Counter(r.reason or "unknown" for r in results if r.status == Status.ungradable)
    handed_in = {student_key(r.student) for r in results}
    missing = [s.id for s in roster if student_key(s.id) not in handed_in]
    rows = []
    for r in sorted(results, key=lambda r: student_key(r.student)):
        page = course.root / "feedback" / folder_name(r.student) / _component(r.assignment) / "feedback.html"
        rows.append({"r": r, "late": late_text(r.late_seconds) if r.late_seconds else "",
                     "link": _rel(page, out_dir) if page.is_file() else ""})
    scores = [r.final_score for r in results if r.status != Status.error]
    return {"a": assignment, "plots": plots, "rates": rates.to_dict("records"), "families": fam,
            "failing": failing.most_common(10), "late": late, "ungradable": ungradable.most_common(),
            "missing": missing, "rows": rows, "max_score": max_score,
            "stats": {"students": len(results), "graded": len(graded), "late": len(late),
                      "ungradable": sum(ungradable.values()), "missing": len(missing),
                      "errors": sum(r.status == Status.error for r in results),
                      "pending": sum(t.pending for t in manual),
                      "reviewed": sum(t.manual is not None for t in manual),
                      "mean": _num(sum(scores) / len(scores)) if scores else "-",
                      "median": _num(float(pd.Series(scores).median())) if scores else "-"}}


def write_report(course: Course, assignment: Assignment, out_dir: Path | None = None) -> Path:
    """``reports/<id>.html``: the dashboard of one assignment."""
    out_dir = out_dir or course.root / REPORTS
    with Store(course.root / course.gradebook) as store:
        results = store.latest(assignment.id)
    context = report_context(course, assignment, results, load_roster(course).students, out_dir)
    return atomic_write(out_dir / f"{_component(assignment.id)}.html", render("report.html.j2", **context))


def gradebook_frame(course: Course) -> tuple[pd.DataFrame, dict[str, float]]:
    """One row per student (the roster's, then anyone else graded), one column per assignment with the final
    score (penalties and overrides applied; blank: nothing handed in), and the total."""
    roster = load_roster(course).students
    maxima: dict[str, float] = {}
    scores: dict[str, dict[str, float]] = {}
    names: dict[str, str] = {student_key(s.id): s.id for s in roster}
    with Store(course.root / course.gradebook) as store:
        for a in course.assignments:
            for r in store.latest(a.id):
                key = student_key(r.student)
                names.setdefault(key, r.student)
                maxima[a.id] = max(maxima.get(a.id, 0.0), r.max_score)
                if r.status != Status.error:
                    scores.setdefault(key, {})[a.id] = r.final_score
    columns = [a.id for a in course.assignments]
    rows = []
    for key, name in sorted(names.items()):
        row: dict[str, Any] = {"student": name}
        row.update({c: scores.get(key, {}).get(c) for c in columns})
        row["total"] = round(sum(v for v in scores.get(key, {}).values()), 6)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["student", *columns, "total"])
    return frame, {**maxima, "total": sum(maxima.values())}


def write_gradebook(course: Course, out_dir: Path | None = None) -> tuple[Path, Path]:
    """``exports/gradebook.csv`` and ``reports/gradebook.html``."""
    frame, maxima = gradebook_frame(course)
    csv_path = atomic_write((out_dir or course.root / "exports") / "gradebook.csv",
                            frame.to_csv(index=False, lineterminator="\n"))
    html_dir = out_dir or course.root / REPORTS
    reports = {a.id: f"{a.id}.html" for a in course.assignments if (html_dir / f"{a.id}.html").is_file()}
    html = render("gradebook.html.j2", title=course.title, frame=frame, maxima=maxima,
                  assignments=course.assignments, reports=reports)
    return csv_path, atomic_write(html_dir / "gradebook.html", html)
