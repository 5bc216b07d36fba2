"""The `autograder` command: a thin layer over the library (argument parsing, tables, exit codes)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import check as check_mod
from . import release as release_mod
from . import validate as validate_mod
from .config import load_course
from .errors import UserError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
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


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@app.command()
def release(ids: Ids = None, check: Annotated[bool, typer.Option("--check", help="write nothing; exit 1 if "
            "release/ or solutions/ is out of date")] = False, course: CourseOption = None) -> None:
    """Write release/<id>/ (student notebooks) and solutions/<id>/ (reference and known-wrong ones)."""
    c = load_course(course)
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


@app.command()
def check(notebook: Annotated[Path, typer.Argument(help="the notebook to check")]) -> None:
    """Check a notebook before submitting: intact, runs top to bottom, public checks pass."""
    report = check_mod.check_notebook(
        notebook, announce=lambda a: out.print(f"Checking {notebook} ({a}) …", soft_wrap=True))
    table = Table(title=f"{report.assignment or 'assignment'}: public checks", title_justify="left")
    table.add_column("check")
    table.add_column("result")
    table.add_column("details", overflow="fold")
    styles = {"passed": "[green]passed[/]", "failed": "[red]failed[/]", "not run": "[yellow]not run[/]"}
    for item in report.checks:
        table.add_row(item.cell, styles[item.status], item.detail)
    out.print(table)
    if report.tampered:
        out.print("[red]Locked cells were changed or deleted[/] (restore them from the released notebook; the "
                  "grader runs the released ones): " + ", ".join(report.tampered))
    for reason in report.review:
        out.print(Text.assemble(("needs review", "magenta"), f" by the course staff if submitted like this: {reason}"))
    for line in report.cell_errors:
        out.print(f"[yellow]error[/] in {line}")
    limit = f"{report.time_limit:g} s limit"
    timing = f"ran in {report.seconds:.1f} s ({limit})"
    out.print(f"[red]Timed out:[/] {timing}" if report.timed_out else timing)
    passed = sum(c.status == "passed" for c in report.checks)
    out.print(f"{passed}/{len(report.checks)} public checks pass."
              + (" Ready to submit." if report.ok else " Not ready yet."))
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def validate(ids: Ids = None, jobs: Annotated[int, typer.Option("--jobs", "-j", min=1)] = 2,
             backend: Annotated[str, typer.Option(help="local (sandbox, as in grading) or inprocess")] = "local",
             course: CourseOption = None) -> None:
    """Prove the hidden checks: reference = full marks, blank = 0, known-wrong ones lose what they declare."""
    c = load_course(course)
    if backend not in ("local", "inprocess"):
        raise UserError(f"unknown backend {backend!r} (use local or inprocess)")
    verdicts = validate_mod.validate(c, ids, jobs=jobs, backend=backend)
    table = Table(title="validation", title_justify="left")
    for column in ("assignment", "submission", "expected", "got", "verdict"):
        table.add_column(column)
    table.add_column("what differs", overflow="fold")
    for v in verdicts:
        table.add_row(v.assignment, v.kind, f"{v.expected:g}/{v.max_score:g}", f"{v.got:g}",
                      "[green]ok[/]" if v.ok else "[red]wrong[/]", "; ".join(v.problems))
    out.print(table)
    bad = [v for v in verdicts if not v.ok]
    out.print(f"{len(verdicts) - len(bad)} passed, {len(bad)} failed")
    raise typer.Exit(1 if bad else 0)


@app.command()
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
    c = load_course(course)
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


@app.command()
def grade(assignment: Annotated[str, typer.Argument(help="assignment id, e.g. week01-markov")],
          submissions: Annotated[Path | None, typer.Option(help=SUBMISSIONS_HELP)] = None,
          jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="submissions graded in parallel")] = 1,
          regrade: Annotated[bool, typer.Option(help="grade again even when a result exists")] = False,
          backend: Annotated[str, typer.Option(help="local (bubblewrap sandbox) or docker (runner image)")] = "local",
          image: Annotated[str | None, typer.Option(help="runner image for --backend docker (default: the "
                                                         "assignment's `image` in course.yml)")] = None,
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

    from .grading import GRADEBOOK
    from .grading import grade as grade_batch
    from .reports import summary_table
    from .store import Store

    c = load_course(course)
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
        batch = grade_batch(c, a, submissions=submissions, jobs=jobs, regrade=regrade, backend=backend, image=image,
                            on_total=started, on_result=lambda r: progress.advance(task), on_warning=warned)
    except KeyboardInterrupt:
        progress.stop()
        saved = next(int(t.completed) for t in progress.tasks if t.id == task)  # one per result saved
        err.print(f"interrupted: {saved} result(s) of this run are saved in the gradebook; run the same command "
                  "again to grade the rest", soft_wrap=True)
        raise typer.Exit(130) from None
    finally:
        progress.stop()
    with Store(c.root / GRADEBOOK) as store:
        latest = store.latest(a.id)
    out.print(summary_table(latest, title=f"{a.id}: gradebook"))
    out.print(f"graded {len(batch.results)} submission(s) in {batch.seconds:.1f} s; {batch.skipped} already graded "
              f"(use --regrade to grade them again); {len(latest)} student(s) in the gradebook")


@app.command()
def export(assignment: Annotated[str, typer.Argument(help="assignment id")],
           format: Annotated[str, typer.Option("--format", help="csv or gradescope")] = "csv",
           output: Annotated[Path | None, typer.Option(help="file (csv) or folder (gradescope)")] = None,
           course: CourseOption = None) -> None:
    """Export the gradebook of an assignment (latest result per student)."""
    from .grading import GRADEBOOK
    from .reports import export_csv, export_gradescope
    from .store import Store

    c = load_course(course)
    a = c.assignment(assignment)
    with Store(c.root / GRADEBOOK) as store:
        results = store.latest(a.id)
    if format == "csv":
        path = export_csv(results, output or c.root / "exports" / f"{a.id}.csv")
        out.print(f"wrote {_rel(path)} ({len(results)} student(s))")
    elif format == "gradescope":
        paths = export_gradescope(results, output or c.root / "exports" / f"{a.id}-gradescope")
        out.print(f"wrote {len(paths)} results.json file(s) under {_rel(paths[0].parent.parent) if paths else '-'}")
    else:
        raise UserError(f"unknown export format {format!r} (use csv or gradescope)")


image_app = typer.Typer(no_args_is_help=True, help="Runner images for `grade --backend docker`.")
app.add_typer(image_app, name="image")


@image_app.command("build")
def image_build(gpu: Annotated[bool, typer.Option("--gpu", help="the CUDA image (docker/Dockerfile.gpu)")] = False,
                base: Annotated[str | None, typer.Option(help="base image with Python 3.11 (default: "
                                                         "python:3.11-slim, or a CUDA runtime with --gpu)")] = None,
                wheelhouse: Annotated[Path | None, typer.Option(help="install offline from this folder of "
                                                                "wheels (filled by `pip wheel` when empty)")] = None,
                ) -> None:
    """Build the runner image from this tree, tagged with a hash of its Dockerfile, lock file and runner code."""
    from .docker_backend import build_image

    tags = build_image(gpu=gpu, base=base, wheelhouse=wheelhouse, echo=lambda m: err.print(m, soft_wrap=True))
    out.print(f"built {' and '.join(tags)}")


def main() -> None:
    try:
        app()
    except UserError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
