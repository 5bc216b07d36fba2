"""The `autograder` command: a thin layer over the library (argument parsing, tables, exit codes).

Library modules are imported inside each command, not here: `autograder --help` and shell completion must not
pay for nbformat, nbgrader, pytest or torch (about two seconds), which only the command being run needs.
"""

from __future__ import annotations

import os
import signal
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import __version__
from .errors import UserError
from .i18n import _, use_language

if TYPE_CHECKING:
    from .check import CheckReport
    from .config import Course

app = typer.Typer(pretty_exceptions_enable=False, no_args_is_help=True, rich_markup_mode="rich",
                  help="Release, check, validate and grade the course's notebook assignments.")
# Wide output when piped (CI logs, tests): rich would otherwise wrap tables at 80 columns.
_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 160
out = Console(width=_WIDTH)
err = Console(stderr=True, width=_WIDTH)

SUBMISSIONS_HELP = (
    "A folder or .zip of submissions (default: nbgrader's submitted/<student>/<id>/). It may hold <student>.ipynb "
    "files, Canvas or Moodle downloads as they come, or nbgrader's <student>/<id>/ folders. Student ids are names "
    "in any script, compared without regard to case or Unicode form: 김민준.ipynb and an NFD-named 김민준.ipynb are "
    "one student, as are Alice.ipynb and alice.ipynb; copy marks are dropped, so 김민준 (2).ipynb and "
    "alice-Copy1.ipynb are those students too (the newest file is graded, the others are noted). LMS names are "
    "read for the student: smithjohn_12345_67890_markov.ipynb (Canvas) is smithjohn, and "
    "Kim Minjun_1234567_assignsubmission_file/ (Moodle) is Kim Minjun. Files that are not notebooks are skipped "
    "with one warning. See docs/submissions.md."
)
CourseOption = Annotated[Path | None, typer.Option("--course", help="course.yml (default: found upwards)")]
Ids = Annotated[list[str] | None, typer.Argument(help="assignment ids (default: all)", show_default=False)]


class GradeBackend(StrEnum):
    """Where submissions run when graded."""

    local = "local"    # bubblewrap sandbox on this machine
    docker = "docker"  # the assignment's runner image


class ValidateBackend(StrEnum):
    """Where `validate` runs the validation set: as in grading, or in-process for quick authoring loops."""

    local = "local"
    inprocess = "inprocess"


def _example(*lines: str) -> str:
    """A help epilog with example command lines (rich markup: one per line)."""
    return "Examples:\n\n" + "\n\n".join(f"  [bold]{line}[/]" for line in lines)


def _load(course: Path | None) -> Course:
    from .config import load_course

    return load_course(course)


def _version(value: bool) -> None:
    if value:
        out.print(f"autograder {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, metavar="",
                                                help="print the version and exit")] = False) -> None:
    """Release, check, validate and grade the course's notebook assignments."""


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@app.command("import-nbgrader")
def import_nbgrader(folder: Annotated[Path, typer.Argument(help="an nbgrader course directory (with source/)")],
                    force: Annotated[bool, typer.Option(help="replace an existing course.yml")] = False) -> None:
    """Write course.yml for an nbgrader course directory: its source/ assignments, due dates and course id."""
    from .nbgrader_import import import_nbgrader as run_import

    target, notes = run_import(folder, force=force)
    out.print(f"wrote {_rel(target)}")
    for note in notes:
        out.print(f"note: {note}")


@app.command(epilog=_example("autograder release", "autograder release week01-markov --check"))
def release(ids: Ids = None, check: Annotated[bool, typer.Option("--check", metavar="", help="write nothing; exit 1 if "
            "release/ or solutions/ is out of date")] = False, course: CourseOption = None) -> None:
    """Write release/<id>/ (student notebooks) and solutions/<id>/ (reference and known-wrong ones)."""
    from . import release as release_mod

    c = _load(course)
    if check:
        stale = release_mod.check_release(c, ids)
        if stale:
            err.print(f"out of date with source/ (run `autograder release`): {', '.join(map(_rel, stale))}",
                      soft_wrap=True)
            raise typer.Exit(1)
        out.print("release/ and solutions/ are up to date")
        return
    for assignment_id, changed in release_mod.release(c, ids).items():
        what = f"{len(changed)} file(s) written" if changed else "up to date"
        out.print(f"{assignment_id}: {what}")


@app.command(epilog=_example("autograder check markov.ipynb", "!autograder check markov.ipynb   (in a notebook cell)"))
def check(notebook: Annotated[Path, typer.Argument(help="the notebook to check")]) -> None:
    """Check a notebook before submitting: intact, runs top to bottom, public checks pass."""
    from . import check as check_mod

    report = check_mod.check_notebook(
        notebook, announce=lambda a: out.print(f"Checking {notebook} ({a}) …", soft_wrap=True))
    with use_language(report.lang):  # what the student reads, in the language of their notebook
        _print_check(report)
    raise typer.Exit(0 if report.ok else 1)


def _print_check(report: CheckReport) -> None:
    table = Table(title=_("{assignment}: public checks", assignment=report.assignment or _("assignment")),
                  title_justify="left")
    table.add_column(_("check"))
    table.add_column(_("section"))
    table.add_column(_("result"))
    table.add_column(_("details"), overflow="fold")
    colours = {"passed": "green", "failed": "red", "not attempted": "yellow", "not run": "yellow"}
    for item in report.checks:
        table.add_row(item.cell, item.place.section, Text(report.status_text(item.status),
                                                          style=colours.get(item.status, "")), item.detail)
    out.print(table)
    if report.tampered:
        out.print(Text.assemble((_("Locked cells were changed or deleted"), "red"), " " + _(
            "(restore them from the released notebook; the grader runs the released ones): {cells}",
            cells=", ".join(report.tampered))))
    for reason in report.review:
        out.print(Text.assemble((_("needs review"), "magenta"), " " + _(
            "by the course staff if submitted like this: {reason}", reason=reason)))
    for error in report.cell_errors:
        out.print(Text.assemble((_("error"), "yellow"), f" {error.line()}"))
        for later in error.knock_on:
            out.print(Text("  " + _("which also stops: {error}", error=later.line()), style="dim"))
    timing = _("ran in {seconds} s ({limit} s limit)", seconds=f"{report.seconds:.1f}", limit=f"{report.time_limit:g}")
    out.print(Text.assemble((_("Timed out:"), "red"), " " + timing) if report.timed_out else Text(timing))
    out.print(Text(report.verdict, style="green" if report.ok else "red"))


@app.command(epilog=_example("autograder validate", "autograder validate week03-attention --backend inprocess -j 1"))
def validate(ids: Ids = None, jobs: Annotated[int, typer.Option("--jobs", "-j", min=1)] = 2,
             backend: Annotated[ValidateBackend, typer.Option(help="local: the sandbox, as in grading; inprocess: "
                                                              "quicker, for authoring")] = ValidateBackend.local,
             course: CourseOption = None) -> None:
    """Prove the hidden checks: reference = full marks, blank = 0, known-wrong ones lose what they declare.

    A release that is out of date with source/ is written again first (validating stale reference notebooks
    would prove nothing about the source), and the command says so.
    """
    from . import release as release_mod
    from . import validate as validate_mod

    c = _load(course)
    stale = [a.id for a in c.select(ids) if release_mod.check_release(c, [a.id])]
    if stale:
        err.print(f"{', '.join(stale)}: release/ or solutions/ out of date with source/, released again before "
                  "validating", soft_wrap=True)
        release_mod.release(c, stale)
    verdicts = validate_mod.validate(c, ids, jobs=jobs, backend=backend.value)
    table = Table(title="validation", title_justify="left")
    for column in ("assignment", "submission", "expected", "got", "verdict"):
        table.add_column(column)
    table.add_column("what differs", overflow="fold")
    for v in verdicts:
        pending = f" (+{v.pending:g} pending manual review)" if v.pending else ""
        table.add_row(v.assignment, v.kind, f"{v.expected:g}/{v.max_score:g}{pending}", f"{v.got:g}",
                      "[green]ok[/]" if v.ok else "[red]wrong[/]", "; ".join(v.problems))
    out.print(table)
    bad = [v for v in verdicts if not v.ok]
    out.print(f"{len(verdicts) - len(bad)} passed, {len(bad)} failed")
    raise typer.Exit(1 if bad else 0)


@app.command(epilog=_example("autograder mutate week01-markov", "autograder mutate --profile fast"))
def mutate(ids: Ids = None, jobs: Annotated[int, typer.Option("--jobs", "-j", min=1)] = 2,
           profile: Annotated[str, typer.Option(help="full (every mutant) or fast (a fixed sample per function, "
                                                     "`mutation_sample` in course.yml)")] = "full",
           sample: Annotated[int | None, typer.Option(min=1, help="grade this many mutants per function "
                                                      "(overrides --profile)")] = None,
           results: Annotated[Path | None, typer.Option(help="folder for mutation-<id>.md (default: "
                                                        "benchmarks/results)")] = None,
           fresh: Annotated[bool, typer.Option(help="grade every mutant again, ignoring cached results (for "
                                                    "timings)")] = False,
           course: CourseOption = None) -> None:
    """Measure the hidden checks: grade single-change mutants of the reference; exit 1 below the threshold."""
    from . import mutation

    if profile not in ("full", "fast"):
        raise UserError(f"unknown profile {profile!r} (use full or fast)")
    c = _load(course)
    chosen = c.select(ids)
    failed = []
    for a in chosen:
        n = sample or (a.mutation_sample if profile == "fast" else None)
        run = mutation.mutate(c, a, jobs=jobs, sample=n, fresh=fresh,
                              on_total=lambda total, a=a: err.print(f"{a.id}: grading {total} mutant(s) …"))
        folder = results or c.root / "benchmarks" / "results"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"mutation-{a.id}" + ("" if n is None else f"-sample{n}" if sample else "-fast") + ".md"
        command = (f"autograder mutate {a.id}" + ("" if n is None else f" --sample {n}") + f" --jobs {jobs}"
                   + (" --fresh" if fresh else ""))
        (folder / name).write_text(mutation.render_markdown(run, c, a, command), encoding="utf-8")
        table = Table(title=f"{a.id}: mutation score per function", title_justify="left")
        for column in ("function", "mutants", "killed", "survived", "errors", "score"):
            table.add_column(column)
        for function in run.functions:
            k = run.counts(function)
            score = run.score(function)
            table.add_row(function, str(sum(k.values())), str(k["killed"]), str(k["survived"]), str(k["error"]),
                          "-" if score is None else f"{100 * score:.0f}%")
        out.print(table)
        for m in run.survivors:
            out.print(f"survived {m.id} {m.function}: {m.description}", markup=False, soft_wrap=True)
        total, score = run.counts(), run.score()
        pct = "-" if score is None else f"{100 * score:.1f}%"
        out.print(f"{a.id}: score {pct} ({total['killed']} killed, {total['survived']} survived, {total['error']} "
                  f"errors, {len(run.equivalent)} equivalent, {run.generated} generated) in {run.seconds:.0f} s; "
                  f"details in {_rel(folder / name)}", soft_wrap=True)
        if not run.passed:
            failed.append(f"{a.id} scores {pct}, below its mutation_threshold of {100 * run.threshold:.1f}%")
    if failed:
        err.print("mutation score too low: " + "; ".join(failed), soft_wrap=True)
        raise typer.Exit(1)


@app.command(epilog=_example("autograder grade week01-markov", "autograder grade week01-markov --submissions "
                             "downloads.zip -j 2", "autograder grade week02-rnn --backend docker --regrade",
                             "autograder grade week01-markov --cluster ray://head.example.org:10001"))
def grade(assignment: Annotated[str, typer.Argument(help="assignment id, e.g. week01-markov")],
          submissions: Annotated[Path | None, typer.Option(help=SUBMISSIONS_HELP)] = None,
          jobs: Annotated[int | None, typer.Option("--jobs", "-j", min=1, show_default=False, help="submissions "
                          "graded in parallel (default: 1; on a cluster, every grader slot it offers)")] = None,
          regrade: Annotated[bool, typer.Option(metavar="", help="grade again even when a result exists")] = False,
          backend: Annotated[GradeBackend, typer.Option(help="local: bubblewrap sandbox; docker: the runner "
                                                        "image")] = GradeBackend.local,
          image: Annotated[str | None, typer.Option(help="runner image for --backend docker (default: the "
                                                         "assignment's `image` in course.yml)")] = None,
          cluster: Annotated[str | None, typer.Option(help="grade on a Ray cluster's nodes: ray://HOST:PORT, "
                                                      "HOST:PORT, or auto (a Ray started on this machine)")] = None,
          all_students: Annotated[bool, typer.Option("--all", help="print the whole gradebook, not only the "
                                                     "submissions this run graded")] = False,
          as_json: Annotated[bool, typer.Option("--json", help="print the results as JSON (for scripts)")] = False,
          course: CourseOption = None) -> None:
    """Grade every submission of an assignment in the sandbox; results go to the gradebook and autograded/."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from .grading import grade as grade_batch
    from .reports import summary_table
    from .store import Store

    c = _load(course)
    a = c.assignment(assignment)
    columns = (TextColumn("grading {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("ETA"), TimeRemainingColumn())
    progress = Progress(*columns, console=err, transient=False)
    task = progress.add_task(a.id, total=None)

    def started(total: int) -> None:  # shown once the submissions are found, so bad input stays one line
        progress.update(task, total=total)
        progress.start()

    def warned(line: str) -> None:  # before the progress bar starts: discovery comes first
        err.print(Text.assemble(("warning: ", "yellow"), line), soft_wrap=True)

    try:
        batch = grade_batch(c, a, submissions=submissions, jobs=jobs, regrade=regrade, backend=backend.value,
                            image=image, cluster=cluster, on_total=started, on_result=lambda _r: progress.advance(task),
                            on_warning=warned)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up and exit short
        progress.stop()
        saved = next(int(t.completed) for t in progress.tasks if t.id == task)  # one per result saved
        err.print(f"interrupted: {saved} result(s) of this run are saved in the gradebook; run the same command "
                  "again to grade the rest", soft_wrap=True)
        raise typer.Exit(130) from None
    finally:
        progress.stop()
    with Store(c.root / c.gradebook) as store:
        latest = store.latest(a.id)
    graded_now = {r.student for r in batch.results}
    shown_results = latest if all_students else [r for r in latest if r.student in graded_now]
    if as_json:
        import json

        from .reports import results_json

        print(json.dumps(results_json(shown_results), ensure_ascii=False, indent=1))
        return
    out.print(summary_table(shown_results, title=f"{a.id}: " + ("gradebook" if all_students else "this batch")))
    out.print(f"graded {len(batch.results)} submission(s) in {batch.seconds:.1f} s; {batch.skipped} already graded "
              f"(use --regrade to grade them again); {len(latest)} student(s) in the gradebook")
    for line in input_warnings(batch.results):
        warned(line)


def input_warnings(results: list) -> list[str]:
    """What an instructor should look at before trusting a batch (an empty input is already an error)."""
    if results and all(r.status.value == "ungradable" for r in results):
        return [f"all {len(results)} submission(s) were ungradable (see the reasons above): a wrong assignment "
                "or a broken release is more likely than a whole class of broken notebooks"]
    return []


EXPORT_FORMATS = {"csv": "every check's points, penalties and overrides, one row per student",
                  "nbgrader": "nbgrader export's columns (assignment, duedate, timestamp, ... score, max_score)",
                  "canvas": "a Canvas gradebook import CSV",
                  "gradescope": "Gradescope autograder results.json, one per student"}


@app.command(epilog=_example("autograder export week01-markov", "autograder export week01-markov --format nbgrader"))
def export(assignment: Annotated[str, typer.Argument(help="assignment id")],
           format: Annotated[str, typer.Option("--format", help="; ".join(f"{k}: {v}" for k, v in
                                                                         EXPORT_FORMATS.items()))] = "csv",
           output: Annotated[Path | None, typer.Option(help="file (csv formats) or folder (gradescope)")] = None,
           course: CourseOption = None) -> None:
    """Export the gradebook of an assignment (latest result per student, late penalties and overrides applied)."""
    if format not in EXPORT_FORMATS:  # before anything is read
        raise UserError(f"unknown export format {format!r} (use {', '.join(EXPORT_FORMATS)})")
    from . import exports

    c = _load(course)
    for line in exports.export(c, c.assignment(assignment), format, output):
        out.print(line, soft_wrap=True)


@app.command()
def override(student: Annotated[str, typer.Argument(help="student id")],
             assignment: Annotated[str, typer.Argument(help="assignment id")],
             points: Annotated[float, typer.Option("--points", help="the score that counts, penalties included")],
             comment: Annotated[str, typer.Option("--comment", help="why (shown to the student)")],
             course: CourseOption = None) -> None:
    """Set a student's score by hand; recorded with who, when and why, and used by exports and reports."""
    from . import exports

    c = _load(course)
    out.print(exports.record_override(c, c.assignment(assignment), student, points, comment), soft_wrap=True)


@app.command(epilog=_example("autograder review ps1", "autograder review ps1 --export reviews.csv",
                             "autograder review ps1 --import reviews.csv --grader 'J. Smith'"))
def review(assignment: Annotated[str, typer.Argument(help="assignment id")],
           export_to: Annotated[Path | None, typer.Option("--export", help="write the answers waiting for a "
                                                          "person to this .csv (and an .html beside it to read "
                                                          "them)")] = None,
           import_from: Annotated[Path | None, typer.Option("--import", help="record the points and comments "
                                                            "filled in this .csv (all rows checked first)")] = None,
           include_reviewed: Annotated[bool, typer.Option("--all", metavar="", help="with --export: reviewed "
                                                          "answers too, with their points, to revise")] = False,
           grader: Annotated[str | None, typer.Option(help="with --import: who reviewed (default: "
                                                      "$AUTOGRADER_USER or the login name)")] = None,
           course: CourseOption = None) -> None:
    """Manually graded answers: how many wait (no option), export them to a CSV to fill in, import it back."""
    from . import review as review_mod

    if export_to is not None and import_from is not None:
        raise UserError("give --export or --import, not both")
    if include_reviewed and export_to is None:
        raise UserError("--all goes with --export")
    if grader is not None and import_from is None:
        raise UserError("--grader goes with --import")
    c = _load(course)
    a = c.assignment(assignment)
    if export_to is not None:
        lines = review_mod.export(c, a, export_to, include_reviewed)
    elif import_from is not None:
        lines = review_mod.import_file(c, a, import_from, grader)
    else:
        lines = review_mod.summary(c, a)
    for line in lines:
        out.print(line, soft_wrap=True, markup=False, highlight=False)


@app.command()
def report(assignment: Annotated[str | None, typer.Argument(help="assignment id (or --all)")] = None,
           all_assignments: Annotated[bool, typer.Option("--all", help="every assignment, and the gradebook")] = False,
           course: CourseOption = None) -> None:
    """Write the class dashboard reports/<id>.html: scores, checks by difficulty, known mistakes, time, late and
    ungradable, and a row per student linking to their feedback page."""
    from .dashboard import write_gradebook, write_report

    if (assignment is None) == (not all_assignments):
        raise UserError("name one assignment, or pass --all for every assignment")
    c = _load(course)
    for a in c.select(None if all_assignments else [assignment]):  # type: ignore[list-item]
        out.print(f"wrote {_rel(write_report(c, a))}", soft_wrap=True)
    if all_assignments:
        csv_path, html_path = write_gradebook(c)
        out.print(f"wrote {_rel(html_path)} and {_rel(csv_path)}", soft_wrap=True)


@app.command()
def gradebook(course: CourseOption = None) -> None:
    """The course gradebook: exports/gradebook.csv and reports/gradebook.html, one column per assignment (final
    scores, penalties applied) and the total."""
    from .dashboard import write_gradebook

    c = _load(course)
    csv_path, html_path = write_gradebook(c)
    out.print(f"wrote {_rel(csv_path)} and {_rel(html_path)}", soft_wrap=True)


students_app = typer.Typer(no_args_is_help=True, help="The gradebook's students: list, rename, remove.")
app.add_typer(students_app, name="students")


@students_app.command("list")
def students_list(removed: Annotated[bool, typer.Option("--removed", help="include removed students")] = False,
                  course: CourseOption = None) -> None:
    """Every student in the gradebook, with their submissions and whether they are on the roster."""
    from . import exports

    c = _load(course)
    table = Table(title="students", title_justify="left")
    for column in ("student", "submissions", "on roster", "removed"):
        table.add_column(column)
    for row in exports.student_list(c, removed):
        table.add_row(Text(row["student"]), str(row["submissions"]), row["on_roster"], row["removed_at"] or "")
    out.print(table)


@students_app.command("rename")
def students_rename(old: str, new: str, course: CourseOption = None) -> None:
    """Give a student another id; into an existing student, their submissions are merged (a phantom such as
    `frank (1)` into `frank`)."""
    from .store import Store

    c = _load(course)
    with Store(c.root / c.gradebook) as store:
        moved = store.rename_student(old, new)
    out.print(f"{old} is now {new} ({moved} submission(s))", soft_wrap=True)


@students_app.command("remove")
def students_remove(student: str, course: CourseOption = None) -> None:
    """Take a student out of the gradebook and exports; their history stays in the database."""
    from .results import now_iso
    from .store import Store

    c = _load(course)
    with Store(c.root / c.gradebook) as store:
        name = store.remove_student(student, now_iso())
    out.print(f"removed {name} (history kept in {c.gradebook})", soft_wrap=True)


i18n_app = typer.Typer(no_args_is_help=True, help="Message catalogs: what is not translated yet.")
app.add_typer(i18n_app, name="i18n")


@i18n_app.command("missing", epilog=_example("autograder i18n missing", "autograder i18n missing --lang ko"))
def i18n_missing(lang: Annotated[list[str] | None, typer.Option("--lang", help="a language (default: every one with a "
                                                                 "catalog but the base)")] = None) -> None:
    """List the messages a language has no translation for, or only a fuzzy one (they are shown in English);
    exit 1 if there are any."""
    from . import i18n

    languages = lang or [code for code in i18n.available() if code != i18n.BASE]
    total = 0
    for code in languages:
        if code not in i18n.available():
            raise UserError(f"no catalog for language {code!r} (expected {i18n.LOCALE_DIR}/{code}/LC_MESSAGES/"
                            f"{i18n.DOMAIN}.po)")
        missing = i18n.missing(code)
        total += len(missing)
        for msgid in missing:
            out.print(Text(f"{code}: {msgid}"), soft_wrap=True)
        out.print(f"{code}: {len(missing)} message(s) without a translation", soft_wrap=True)
    raise typer.Exit(1 if total else 0)


image_app = typer.Typer(no_args_is_help=True, help="Runner images for `grade --backend docker`.")
app.add_typer(image_app, name="image")


@image_app.command("build", epilog=_example("autograder image build", "autograder image build --gpu"))
def image_build(gpu: Annotated[bool, typer.Option("--gpu", metavar="",
                                                  help="the CUDA image (docker/Dockerfile.gpu)")] = False,
                base: Annotated[str | None, typer.Option(help="base image with Python 3.11 (default: "
                                                         "python:3.11-slim, or a CUDA runtime with --gpu)")] = None,
                wheelhouse: Annotated[Path | None, typer.Option(help="install offline from this folder of "
                                                                "wheels (filled by `pip wheel` when empty)")] = None,
                ) -> None:
    """Build the runner image from this tree, tagged with a hash of its Dockerfile, lock file and runner code."""
    from .sandboxes.docker import build_image

    tags = build_image(gpu=gpu, base=base, wheelhouse=wheelhouse, echo=lambda m: err.print(m, soft_wrap=True))
    out.print(f"built {' and '.join(tags)}")


def main() -> None:
    # Not standalone: click would print a usage error as a multi-line box; every error here is one line.
    from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer vendors click (pinned)

    try:
        code = app(standalone_mode=False)
    except UserError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except NoArgsIsHelpError as exc:  # a bare `autograder`: the help is the answer
        exc.show()
        sys.exit(exc.exit_code)
    except ClickException as exc:
        message = exc.format_message().replace("Value error, ", "").rstrip(".")
        err.print(f"error: {message}; see --help", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        err.print("interrupted")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
