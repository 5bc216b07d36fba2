"""The gradebook: every grading run of every submission, in one SQLite file.

The grader may be killed at any moment, so each result is written in one transaction (a run and its test
results commit together or not at all), ``is_done`` is the engine's skip test, and a regrade adds a new run
that becomes the submission's only latest one. History is kept; the gradebook view (``latest``) never has
duplicates.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from .errors import UserError
from .harness import TestResult
from .results import GradeResult, Status, now_iso

SCHEMA_VERSION = 6  # 2: status needs_review; runs.review_json, runs.tampered_json and runs.check_output
# 3: runs' lateness columns, the overrides table, removed_students (see _migrate_2_to_3)
# 4: test_results.pending (a manually graded nbgrader cell, waiting for a person) and test_results.forgeable
# 5: test_results.answer (the student's text of a manually graded part) and the reviews table (_migrate_4_to_5)
# 6: runs.lang, the language the student worked in (their feedback's; '' for older runs: the base language)
BUSY_TIMEOUT_MS = 30_000
STALE = "the answer changed after"  # a manually graded part reviewed before its answer changed: pending again

_RUNS = """CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        submission_id INTEGER NOT NULL REFERENCES submissions(id),
        status TEXT NOT NULL CHECK (status IN ('graded', 'needs_review', 'ungradable', 'error')),
        score REAL NOT NULL,
        max_score REAL NOT NULL,
        reason TEXT NOT NULL,
        backend TEXT NOT NULL,
        started_at TEXT NOT NULL,
        duration_s REAL NOT NULL,
        output TEXT NOT NULL,
        cell_errors_json TEXT NOT NULL,
        is_latest INTEGER NOT NULL CHECK (is_latest IN (0, 1)),
        review_json TEXT NOT NULL DEFAULT '[]',
        tampered_json TEXT NOT NULL DEFAULT '[]',
        -- what the submission printed while hidden checks called it: for the course staff only
        check_output TEXT NOT NULL DEFAULT '')"""
_RUNS_INDEXES = [
    "CREATE INDEX runs_by_submission ON runs (submission_id)",
    # At most one latest run per submission, enforced by the database itself.
    "CREATE UNIQUE INDEX runs_one_latest ON runs (submission_id) WHERE is_latest = 1",
]

_SCHEMA = [  # version 2; later versions are reached by their migration steps, for new and old files alike
    """CREATE TABLE students (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE)""",
    """CREATE TABLE submissions (
        id INTEGER PRIMARY KEY,
        student_id INTEGER NOT NULL REFERENCES students(id),
        assignment TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        submitted_at TEXT NOT NULL,
        path TEXT NOT NULL,
        UNIQUE (student_id, assignment, content_hash))""",
    "CREATE INDEX submissions_by_assignment ON submissions (assignment, student_id)",
    _RUNS,
    *_RUNS_INDEXES,
    """CREATE TABLE test_results (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        test_id TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT NOT NULL,
        points REAL NOT NULL,
        passed INTEGER NOT NULL CHECK (passed IN (0, 1)),
        message TEXT NOT NULL)""",  # (version 2's tables: a new gradebook is migrated from there like an old one)
    "CREATE INDEX test_results_by_run ON test_results (run_id)",
]

# The latest run of each student's most recent submission (highest submissions.id) of one assignment.
_LATEST_RUNS = """
    SELECT st.name, s.assignment, s.content_hash, r.id, r.status, r.score, r.max_score, r.reason, r.backend,
           r.started_at, r.duration_s, r.output, r.cell_errors_json, r.review_json, r.tampered_json, r.check_output,
           r.submitted_at, r.time_source, r.due_at, r.late_seconds, r.penalty, r.lang,
           (SELECT json_object('points', o.points, 'comment', o.comment, 'author', o.author, 'at', o.created_at)
            FROM overrides o WHERE o.student_id = st.id AND o.assignment = s.assignment
            ORDER BY o.id DESC LIMIT 1) AS override_json
    FROM submissions s
    JOIN students st ON st.id = s.student_id
    JOIN runs r ON r.submission_id = s.id AND r.is_latest = 1
    WHERE s.assignment = :assignment
      AND st.id NOT IN (SELECT student_id FROM removed_students)
      AND s.id = (SELECT s2.id FROM submissions s2
                  WHERE s2.student_id = s.student_id AND s2.assignment = :assignment
                  ORDER BY s2.submitted_at DESC, s2.id DESC LIMIT 1)
    ORDER BY st.name
"""

_STUDENTS = """SELECT st.id, st.name, rm.removed_at FROM students st
               LEFT JOIN removed_students rm ON rm.student_id = st.id"""

_P = ParamSpec("_P")
_T = TypeVar("_T")


def _database_error(path: Path, exc: sqlite3.Error) -> UserError:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "locked" in text or "busy" in text:
        return UserError(f"the gradebook is in use by another process ({text})", path)
    return UserError(f"not a readable gradebook database ({text}); restore it or move it aside", path)


def _translated(method: Callable[_P, _T]) -> Callable[_P, _T]:
    """Database failures become one-line UserErrors naming the file; programming errors stay errors."""

    @wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return method(*args, **kwargs)
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError):
            raise
        except sqlite3.DatabaseError as exc:
            store = args[0]
            assert isinstance(store, Store)
            raise _database_error(store.path, exc) from None

    return wrapper


class Store:
    """The gradebook database. Safe to share between threads (one connection behind a lock)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                         timeout=BUSY_TIMEOUT_MS / 1000)
        except (OSError, sqlite3.Error) as exc:
            raise UserError(f"cannot open the gradebook ({exc})", self.path) from None
        try:
            self._open()
        except BaseException:
            self._conn.close()
            raise

    @_translated
    def _open(self) -> None:
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
            raise UserError("cannot switch the gradebook to WAL mode", self.path)
        conn.execute("PRAGMA synchronous = FULL")  # an acknowledged result survives power loss too
        # Foreign keys are off while the schema may change: rebuilding a table (SQLite's own recipe) drops it,
        # and the pragma has no effect inside a transaction.
        conn.execute("PRAGMA foreign_keys = OFF")
        with self._transaction():
            self._migrate()
        conn.execute("PRAGMA foreign_keys = ON")

    def _migrate(self) -> None:
        """Create the schema, or bring an older gradebook up to date keeping all of its data; one transaction,
        so a second grader opening the same file at the same moment waits and then finds it done."""
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise UserError(f"gradebook schema version {version} is newer than this autograder's "
                            f"({SCHEMA_VERSION}); upgrade the autograder", self.path)
        if version == SCHEMA_VERSION:
            return
        if version == 0:
            if self._conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:
                raise UserError("an SQLite database, but not a gradebook (it has tables and no schema version)",
                                self.path)
            for statement in _SCHEMA:
                self._conn.execute(statement)
            version = 2
        if version == 1:
            self._migrate_1_to_2()
            version = 2
        if version == 2:
            self._migrate_2_to_3()
            version = 3
        if version == 3:
            self._migrate_3_to_4()
            version = 4
        if version == 4:
            self._migrate_4_to_5()
            version = 5
        if version == 5:
            self._migrate_5_to_6()
        self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _migrate_1_to_2(self) -> None:
        """runs gains the status needs_review (a CHECK constraint: SQLite changes it only by rebuilding the
        table), the review and tampered columns and the check output (empty for old runs)."""
        conn = self._conn
        columns = ("id, submission_id, status, score, max_score, reason, backend, started_at, duration_s, output, "
                   "cell_errors_json, is_latest")
        conn.execute(_RUNS.replace("CREATE TABLE runs", "CREATE TABLE runs_v2"))
        conn.execute(f"INSERT INTO runs_v2 ({columns}) SELECT {columns} FROM runs")
        conn.execute("DROP TABLE runs")
        conn.execute("ALTER TABLE runs_v2 RENAME TO runs")
        for statement in _RUNS_INDEXES:
            conn.execute(statement)
        broken = conn.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise UserError(f"the gradebook's references are broken ({len(broken)} row(s)); restore it", self.path)

    def _migrate_2_to_3(self) -> None:
        """Late policy and audit: each run records when it was handed in and how that is known, when it was due
        for that student, its lateness and the late penalty (old runs: unknown time, no penalty); overrides keep
        every score a person set, with who, when and why; a removed student keeps their history."""
        conn = self._conn
        for column in ("submitted_at TEXT NOT NULL DEFAULT ''", "time_source TEXT NOT NULL DEFAULT ''",
                       "due_at TEXT NOT NULL DEFAULT ''", "late_seconds REAL NOT NULL DEFAULT 0",
                       "penalty REAL NOT NULL DEFAULT 0"):
            conn.execute(f"ALTER TABLE runs ADD COLUMN {column}")
        conn.execute("""CREATE TABLE removed_students (
            student_id INTEGER PRIMARY KEY REFERENCES students(id),
            removed_at TEXT NOT NULL)""")
        conn.execute("""CREATE TABLE overrides (
            id INTEGER PRIMARY KEY,
            student_id INTEGER NOT NULL REFERENCES students(id),
            assignment TEXT NOT NULL,
            points REAL NOT NULL,
            comment TEXT NOT NULL,
            author TEXT NOT NULL,
            created_at TEXT NOT NULL)""")
        conn.execute("CREATE INDEX overrides_by_student ON overrides (student_id, assignment)")
        # a name a student was renamed from: files under it are filed under the student from then on
        conn.execute("""CREATE TABLE student_aliases (
            alias TEXT PRIMARY KEY,
            student_id INTEGER NOT NULL REFERENCES students(id))""")

    def _migrate_3_to_4(self) -> None:
        """test_results gains pending and forgeable (0 for every older result: all were autograded checks)."""
        for column in ("pending", "forgeable"):
            self._conn.execute(f"ALTER TABLE test_results ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0 "
                               f"CHECK ({column} IN (0, 1))")

    def _migrate_4_to_5(self) -> None:
        """Manual review: test_results keeps the student's answer to a manually graded part as graded (NULL for
        older runs: not stored), and reviews keeps every score a person gave one (the audit trail: who, when,
        why, from which file), tied to the answer it was given for (its hash) so a changed answer is reviewed
        again."""
        conn = self._conn
        conn.execute("ALTER TABLE test_results ADD COLUMN answer TEXT")
        conn.execute("""CREATE TABLE reviews (
            id INTEGER PRIMARY KEY,
            student_id INTEGER NOT NULL REFERENCES students(id),
            assignment TEXT NOT NULL,
            test_id TEXT NOT NULL,
            answer_sha TEXT NOT NULL,
            points REAL NOT NULL,
            comment TEXT NOT NULL,
            author TEXT NOT NULL,
            created_at TEXT NOT NULL,
            source TEXT NOT NULL)""")
        conn.execute("CREATE INDEX reviews_by_student ON reviews (student_id, assignment, test_id)")

    def _migrate_5_to_6(self) -> None:
        """runs gain lang: the language of the submission's notebook, in which its feedback was written."""
        if "lang" not in {row[1] for row in self._conn.execute("PRAGMA table_info(runs)")}:
            self._conn.execute("ALTER TABLE runs ADD COLUMN lang TEXT NOT NULL DEFAULT ''")

    @contextmanager
    def _transaction(self, kind: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """One transaction. Writes take the lock up front (IMMEDIATE) so concurrent writers wait instead of
        failing; reads use DEFERRED for one consistent snapshot while another process writes."""
        with self._lock:
            self._conn.execute(f"BEGIN {kind}")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    @_translated
    def note_submission(self, student: str, assignment: str, content_hash: str, submitted_at: str, path: str) -> None:
        """A submission seen again (e.g. a student went back to an earlier version): refresh when it was
        submitted, so the gradebook shows the result of what the student handed in last."""
        with self._transaction() as conn:
            conn.execute(
                """UPDATE submissions SET submitted_at = ?, path = ?
                   WHERE assignment = ? AND content_hash = ?
                     AND student_id = (SELECT id FROM students WHERE name = ?)""",
                (submitted_at, path, assignment, content_hash, student))

    @_translated
    def refresh_lateness(self, student: str, assignment: str, content_hash: str,
                         compute: Callable[[GradeResult], GradeResult]) -> None:
        """Re-apply the late policy to this submission's latest run (course.yml's due date, extensions or policy
        may have changed since it was graded; the checks' score is not touched)."""
        with self._transaction() as conn:
            row = conn.execute(
                """SELECT r.id, r.status, r.score, r.max_score, s.submitted_at, r.time_source FROM runs r
                   JOIN submissions s ON s.id = r.submission_id JOIN students st ON st.id = s.student_id
                   WHERE st.name = ? AND s.assignment = ? AND s.content_hash = ? AND r.is_latest = 1""",
                (student, assignment, content_hash)).fetchone()
            if row is None:
                return
            run_id, status, score, max_score, submitted_at, time_source = row
            score += self._reviewed_points(conn, run_id, student, assignment)  # the penalty is on checks + reviews
            fresh = compute(GradeResult(student, assignment, content_hash, Status(status), score=score,
                                        max_score=max_score, submitted_at=submitted_at, time_source=time_source))
            conn.execute("""UPDATE runs SET submitted_at = ?, due_at = ?, late_seconds = ?, penalty = ?,
                            time_source = ? WHERE id = ?""",
                         (fresh.submitted_at, fresh.due_at, fresh.late_seconds, fresh.penalty, fresh.time_source,
                          run_id))

    def record(self, result: GradeResult, submitted_at: str, path: str) -> int:
        """Store one result as the new latest run of its submission; return the run id."""
        with self._transaction() as conn:
            submission_id = self._upsert_submission(conn, result, submitted_at, path)
            conn.execute("UPDATE runs SET is_latest = 0 WHERE submission_id = ? AND is_latest = 1", (submission_id,))
            run_id = self._insert_run(conn, submission_id, result)
            conn.executemany(
                """INSERT INTO test_results (run_id, test_id, name, description, points, passed, message, pending,
                                            forgeable, answer)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [(run_id, t.test_id, t.name, t.description, t.points, int(t.passed), t.message, int(t.pending),
                  int(t.forgeable), result.answers.get(t.test_id) if t.pending else None) for t in result.tests])
        return run_id

    @staticmethod
    def _upsert_submission(conn: sqlite3.Connection, result: GradeResult, submitted_at: str, path: str) -> int:
        """The submission's id, creating student and submission on first sight (no RETURNING: SQLite < 3.35)."""
        conn.execute("INSERT INTO students (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (result.student,))
        key = (result.student, result.assignment, result.content_hash)
        conn.execute(
            """INSERT INTO submissions (student_id, assignment, content_hash, submitted_at, path)
               VALUES ((SELECT id FROM students WHERE name = ?), ?, ?, ?, ?)
               ON CONFLICT (student_id, assignment, content_hash)
               DO UPDATE SET submitted_at = excluded.submitted_at, path = excluded.path""",
            (*key, submitted_at, path))
        return conn.execute(
            """SELECT s.id FROM submissions s JOIN students st ON st.id = s.student_id
               WHERE st.name = ? AND s.assignment = ? AND s.content_hash = ?""", key).fetchone()[0]

    @staticmethod
    def _insert_run(conn: sqlite3.Connection, submission_id: int, result: GradeResult) -> int:
        cursor = conn.execute(
            """INSERT INTO runs (submission_id, status, score, max_score, reason, backend, started_at, duration_s,
                                 output, cell_errors_json, is_latest, review_json, tampered_json, check_output,
                                 submitted_at, time_source, due_at, late_seconds, penalty, lang)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (submission_id, Status(result.status).value, result.score, result.max_score, result.reason,
             result.backend, result.started_at, result.duration_s, result.output,
             json.dumps(result.cell_errors, sort_keys=True), json.dumps(result.review),
             json.dumps(result.tampered), result.check_output, result.submitted_at, result.time_source,
             result.due_at, result.late_seconds, result.penalty, result.lang))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    @_translated
    def is_done(self, student: str, assignment: str, content_hash: str) -> bool:
        """Whether this exact submission needs no grading: its latest run is graded, needs review (a person's
        turn, not the grader's) or ungradable; not error."""
        with self._lock:
            row = self._conn.execute(
                """SELECT 1 FROM runs r
                   JOIN submissions s ON s.id = r.submission_id
                   JOIN students st ON st.id = s.student_id
                   WHERE st.name = ? AND s.assignment = ? AND s.content_hash = ? AND r.is_latest = 1
                     AND r.status IN ('graded', 'needs_review', 'ungradable')""",
                (student, assignment, content_hash)).fetchone()
        return row is not None

    @_translated
    def student_names(self) -> list[str]:
        """Every student's id as first recorded, oldest first (grading files a new spelling of one under it)."""
        with self._lock:
            return [name for (name,) in self._conn.execute("SELECT name FROM students ORDER BY id")]

    @_translated
    def aliases(self) -> dict[str, str]:
        """Renamed-from names (as student keys) -> the student's id now."""
        with self._lock:
            return dict(self._conn.execute(
                "SELECT a.alias, st.name FROM student_aliases a JOIN students st ON st.id = a.student_id"))

    @_translated
    def latest(self, assignment: str) -> list[GradeResult]:
        """The gradebook of one assignment: each student's most recent submission's latest run, by student."""
        with self._transaction("DEFERRED") as conn:
            runs = conn.execute(_LATEST_RUNS, {"assignment": assignment}).fetchall()
            tests = conn.execute(
                f"""SELECT t.run_id, t.test_id, t.name, t.description, t.points, t.passed, t.message, t.pending,
                           t.forgeable, t.answer
                    FROM test_results t JOIN ({_LATEST_RUNS}) latest ON latest.id = t.run_id
                    ORDER BY t.run_id, t.id""", {"assignment": assignment}).fetchall()
            reviews = self._review_rows(conn, assignment)
        by_run: dict[int, list[TestResult]] = {}
        answers: dict[int, dict[str, str]] = {}
        for run_id, test_id, name, description, points, passed, message, pending, forgeable, answer in tests:
            by_run.setdefault(run_id, []).append(TestResult(test_id, name, description, points, bool(passed), message,
                                                            pending=bool(pending), forgeable=bool(forgeable)))
            if answer is not None:
                answers.setdefault(run_id, {})[test_id] = answer
        return [with_reviews(_result(row, by_run.get(row[3], []), answers.get(row[3], {})), reviews)
                for row in runs]

    # --- manual review ----------------------------------------------------------------------------------------

    @staticmethod
    def _review_rows(conn: sqlite3.Connection, assignment: str, student: str | None = None
                     ) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """(student, test id) -> every review of that part, oldest first."""
        rows = conn.execute(
            """SELECT st.name, r.test_id, r.answer_sha, r.points, r.comment, r.author, r.created_at, r.source
               FROM reviews r JOIN students st ON st.id = r.student_id
               WHERE r.assignment = :a AND (:s IS NULL OR st.name = :s) ORDER BY r.id""",
            {"a": assignment, "s": student}).fetchall()
        found: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for name, test_id, sha, points, comment, author, at, source in rows:
            found.setdefault((name, test_id), []).append(
                {"answer_sha": sha, "points": points, "comment": comment, "author": author, "at": at,
                 "source": source})
        return found

    def _reviewed_points(self, conn: sqlite3.Connection, run_id: int, student: str, assignment: str) -> float:
        """The points people gave the manually graded parts of one run (their answers as that run graded them)."""
        tests = conn.execute(
            """SELECT test_id, name, description, points, message, answer FROM test_results
               WHERE run_id = ? AND pending = 1""", (run_id,)).fetchall()
        reviews = self._review_rows(conn, assignment, student)
        total = 0.0
        for test_id, name, description, points, message, answer in tests:
            pending = TestResult(test_id, name, description, points, False, message, pending=True)
            total += review_of(pending, answer or "", reviews.get((student, test_id), [])).score
        return total

    @_translated
    def apply_reviews(self, result: GradeResult) -> GradeResult:
        """``result`` (one just graded) with the reviews its student's answers already have."""
        with self._transaction("DEFERRED") as conn:
            reviews = self._review_rows(conn, result.assignment, result.student)
        return with_reviews(result, reviews)

    @_translated
    def record_reviews(self, assignment: str, entries: list[dict[str, Any]], author: str, at: str, source: str
                       ) -> int:
        """Record a person's scores of manually graded parts, all or none; each entry names ``student``,
        ``test_id``, ``answer_sha``, ``points`` and ``comment``. Earlier reviews stay as the audit trail."""
        with self._transaction() as conn:
            for entry in entries:
                student_id = self._student_id(conn, entry["student"])
                conn.execute(
                    """INSERT INTO reviews (student_id, assignment, test_id, answer_sha, points, comment, author,
                                            created_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (student_id, assignment, entry["test_id"], entry["answer_sha"], entry["points"],
                     entry["comment"], author, at, source))
        return len(entries)

    @_translated
    def reviews(self, assignment: str) -> list[dict[str, Any]]:
        """Every review ever recorded for ``assignment`` (the audit trail), oldest first."""
        with self._transaction("DEFERRED") as conn:
            found = self._review_rows(conn, assignment)
        rows = [{"student": student, "test_id": test_id, **review} for (student, test_id), reviews in found.items()
                for review in reviews]
        return sorted(rows, key=lambda r: (r["at"], r["student"], r["test_id"]))

    # --- people: overrides and the student list ---------------------------------------------------------------

    def _student_id(self, conn: sqlite3.Connection, student: str, *, removed: bool = False) -> int:
        from .students import student_key

        rows = conn.execute(_STUDENTS).fetchall()
        wanted = student_key(student)
        for row_id, name, removed_at in rows:
            if student_key(name) == wanted and (removed or removed_at is None):
                return int(row_id)
        raise UserError(f"no student {student!r} in the gradebook (`autograder students` lists them)", self.path)

    @_translated
    def override(self, student: str, assignment: str, points: float, comment: str, author: str, at: str) -> None:
        """Record a person's score for ``student``'s ``assignment``; earlier overrides stay as the audit trail."""
        with self._transaction() as conn:
            student_id = self._student_id(conn, student)
            if conn.execute("SELECT 1 FROM submissions WHERE student_id = ? AND assignment = ?",
                            (student_id, assignment)).fetchone() is None:
                raise UserError(f"{student!r} has no graded submission of {assignment}; grade it first", self.path)
            conn.execute("""INSERT INTO overrides (student_id, assignment, points, comment, author, created_at)
                            VALUES (?, ?, ?, ?, ?, ?)""", (student_id, assignment, points, comment, author, at))

    @_translated
    def overrides(self, assignment: str | None = None) -> list[dict[str, Any]]:
        """Every override ever recorded (the audit trail), oldest first."""
        with self._lock:
            rows = self._conn.execute(
                """SELECT st.name, o.assignment, o.points, o.comment, o.author, o.created_at
                   FROM overrides o JOIN students st ON st.id = o.student_id
                   WHERE :a IS NULL OR o.assignment = :a ORDER BY o.id""", {"a": assignment}).fetchall()
        keys = ("student", "assignment", "points", "comment", "author", "at")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    @_translated
    def students(self, include_removed: bool = False) -> list[dict[str, Any]]:
        """The students of the gradebook with how many submissions each has, and when they were removed."""
        with self._lock:
            rows = self._conn.execute(
                """SELECT st.name, rm.removed_at, COUNT(s.id) FROM students st
                   LEFT JOIN removed_students rm ON rm.student_id = st.id
                   LEFT JOIN submissions s ON s.student_id = st.id GROUP BY st.id ORDER BY st.name""").fetchall()
        return [{"student": name, "removed_at": removed, "submissions": count} for name, removed, count in rows
                if include_removed or removed is None]

    @_translated
    def remove_student(self, student: str, at: str) -> str:
        """Hide a student (a phantom, a dropped student) from the gradebook; their runs stay in the database."""
        with self._transaction() as conn:
            student_id = self._student_id(conn, student)
            conn.execute("INSERT INTO removed_students (student_id, removed_at) VALUES (?, ?)", (student_id, at))
            return str(conn.execute("SELECT name FROM students WHERE id = ?", (student_id,)).fetchone()[0])

    @_translated
    def rename_student(self, old: str, new: str) -> int:
        """Give ``old`` the id ``new``; if ``new`` is already a student, move ``old``'s submissions to them (a
        phantom such as ``frank (1)`` merged into ``frank``). A submission ``new`` already has (same content)
        stays with ``old``, which is then removed, so nothing is deleted. Files named ``old`` in later batches
        are filed under ``new`` (an alias). Returns the submissions moved."""
        from .students import student_key

        with self._transaction() as conn:
            source = self._student_id(conn, old)
            rows = conn.execute(_STUDENTS).fetchall()
            target = next((int(i) for i, name, _ in rows if student_key(name) == student_key(new) and i != source),
                          None)
            old_name = next(name for i, name, _ in rows if i == source)
            conn.execute("INSERT OR REPLACE INTO student_aliases (alias, student_id) VALUES (?, ?)",
                         (student_key(old_name), target if target is not None else source))
            if target is None:
                conn.execute("UPDATE students SET name = ? WHERE id = ?", (new, source))
                return int(conn.execute("SELECT COUNT(*) FROM submissions WHERE student_id = ?",
                                        (source,)).fetchone()[0])
            moved = conn.execute(
                """UPDATE submissions SET student_id = :target WHERE student_id = :source AND NOT EXISTS (
                       SELECT 1 FROM submissions t WHERE t.student_id = :target
                       AND t.assignment = submissions.assignment AND t.content_hash = submissions.content_hash)""",
                {"target": target, "source": source}).rowcount
            conn.execute("UPDATE overrides SET student_id = ? WHERE student_id = ?", (target, source))
            conn.execute("UPDATE reviews SET student_id = ? WHERE student_id = ?", (target, source))
            conn.execute("INSERT OR IGNORE INTO removed_students (student_id, removed_at) VALUES (?, ?)",
                         (source, now_iso()))
            conn.execute("DELETE FROM removed_students WHERE student_id = ?", (target,))
            return int(moved)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
                 ) -> None:
        self.close()


def _result(row: tuple[Any, ...], tests: list[TestResult], answers: dict[str, str] | None = None) -> GradeResult:
    (student, assignment, content_hash, _run_id, status, score, max_score, reason, backend, started_at,
     duration_s, output, cell_errors_json, review_json, tampered_json, check_output, submitted_at, time_source,
     due_at, late_seconds, penalty, lang, override_json) = row
    return GradeResult(student, assignment, content_hash, Status(status), score=score, max_score=max_score,
                       reason=reason, tests=tests, cell_errors=json.loads(cell_errors_json), output=output,
                       backend=backend, started_at=started_at, duration_s=duration_s,
                       review=json.loads(review_json), tampered=json.loads(tampered_json),
                       check_output=check_output, submitted_at=submitted_at, time_source=time_source,
                       due_at=due_at, late_seconds=late_seconds, penalty=penalty, lang=lang,
                       override=json.loads(override_json) if override_json else None, answers=answers or {})


def answer_sha(answer: str) -> str:
    """What a review is tied to: the answer's text, line endings and trailing spaces aside (a re-save by another
    editor is the same answer)."""
    lines = answer.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return hashlib.sha256("\n".join(line.rstrip() for line in lines).strip("\n").encode("utf-8")).hexdigest()


def review_of(test: TestResult, answer: str, reviews: list[dict[str, Any]]) -> TestResult:
    """A pending manually graded part as its reviews leave it: scored by the latest review given for this very
    answer; still pending, saying so, when the only reviews were of an answer that has since changed (stale)."""
    if not test.pending or not reviews:
        return test
    sha = answer_sha(answer)
    given = [r for r in reviews if r["answer_sha"] == sha]
    if given:
        last = given[-1]
        manual = {k: last[k] for k in ("points", "comment", "author", "at")}
        return dataclasses.replace(test, pending=False, passed=float(last["points"]) >= test.points,
                                   message=last["comment"], manual=manual)
    last = reviews[-1]
    return dataclasses.replace(test, message=f"{test.message}: {STALE} {last['author']} reviewed it "
                                             f"({last['points']:g} points, {last['at']}); review it again")


def with_reviews(result: GradeResult, reviews: dict[tuple[str, str], list[dict[str, Any]]]) -> GradeResult:
    """``result`` with its manually graded parts scored by their reviews; the score is the checks' plus the
    reviewed points."""
    tests = [review_of(t, result.answers.get(t.test_id, ""), reviews.get((result.student, t.test_id), []))
             for t in result.tests]
    extra = sum(t.score for t in tests if t.manual is not None)
    if not extra and all(t is u for t, u in zip(tests, result.tests, strict=True)):
        return result
    return dataclasses.replace(result, tests=tests, score=round(result.score + extra, 6))
