"""The gradebook database: round trips, regrades, refusal of foreign files, and surviving SIGKILL."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from autograder.errors import UserError
from autograder.harness import TestResult
from autograder.results import GradeResult, Status
from autograder.store import SCHEMA_VERSION, Store

from .conftest import REPO

WHEN = "2026-01-05T12:00:00+00:00"


def make(student: str = "alice", content_hash: str = "h1", status: Status = Status.graded,
         assignment: str = "week00-toy", **extra) -> GradeResult:
    tests = [TestResult("test_toy.py::test_add", "test_add", "add adds", 2.0, True, ""),
             TestResult("test_toy.py::test_scale", "test_scale", "scale scales", 1.5, False, "scale(2, 3) ≠ 6")]
    fields = {"score": 2.0, "max_score": 3.5, "tests": tests, "backend": "inprocess", "started_at": WHEN,
              "duration_s": 1.25, "output": "héllo\n", "cell_errors": [{"cell": "cell 3", "error_type": "ValueError",
                                                                         "message": "bad"}]}
    return GradeResult(student, assignment, content_hash, status, **{**fields, **extra})


def count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()[0]


def test_a_result_round_trips_exactly_through_a_reopened_file(tmp_path: Path):
    db = tmp_path / "grades" / "gradebook.db"
    original = make()
    with Store(db) as store:
        run_id = store.record(original, WHEN, "submitted/alice/week00-toy")
    assert run_id > 0
    with Store(db) as store:
        assert store.latest("week00-toy") == [original]
        assert store.latest("week01-other") == []
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_review_reasons_and_tampered_cells_round_trip(tmp_path: Path):
    db = tmp_path / "gradebook.db"
    original = make(status=Status.needs_review, review=["answer cell answer-add is missing and no cell of the "
                                                        "notebook defines `add`"], tampered=["check-add: modified"])
    with Store(db) as store:
        store.record(original, WHEN, "p")
    with Store(db) as store:
        assert store.latest("week00-toy") == [original]


def test_a_regrade_adds_a_run_that_becomes_the_only_latest(tmp_path: Path):
    db = tmp_path / "gradebook.db"
    with Store(db) as store:
        store.record(make(status=Status.error, score=0.0, tests=[], reason="runner crashed"), WHEN, "p")
        assert not store.is_done("alice", "week00-toy", "h1")  # error means: grade it again
        regraded = make()
        store.record(regraded, WHEN, "p")
        assert store.is_done("alice", "week00-toy", "h1")
        assert store.latest("week00-toy") == [regraded]
    assert count(db, "SELECT COUNT(*) FROM runs") == 2
    assert count(db, "SELECT COUNT(*) FROM runs WHERE is_latest = 1") == 1
    assert count(db, "SELECT COUNT(*) FROM submissions") == 1


@pytest.mark.parametrize(("status", "done"), [(Status.graded, True), (Status.ungradable, True),
                                              (Status.needs_review, True), (Status.error, False)])
def test_is_done_is_exact_about_status_student_assignment_and_content(tmp_path: Path, status: Status, done: bool):
    with Store(tmp_path / "g.db") as store:
        store.record(make(status=status), WHEN, "p")
        assert store.is_done("alice", "week00-toy", "h1") is done
        assert not store.is_done("alice", "week00-toy", "h2")
        assert not store.is_done("alice", "week01-other", "h1")
        assert not store.is_done("bob", "week00-toy", "h1")


def test_student_names_are_kept_as_written_oldest_first(tmp_path: Path):
    with Store(tmp_path / "gradebook.db") as store:
        for student in ("이서연", "Kim Minjun", "alice"):
            store.record(make(student=student), WHEN, "p")
        store.record(make(student="이서연", content_hash="h2"), WHEN, "p")
        assert store.student_names() == ["이서연", "Kim Minjun", "alice"]
        assert [r.student for r in store.latest("week00-toy")] == ["Kim Minjun", "alice", "이서연"]


def test_latest_is_each_students_most_recent_submission_sorted_by_student(tmp_path: Path):
    with Store(tmp_path / "g.db") as store:
        store.record(make("bob", "b1", score=1.0), WHEN, "p")
        store.record(make("alice", "a1", score=1.0), WHEN, "p")
        store.record(make("alice", "a2", score=3.0), WHEN, "p")
        store.record(make("alice", "a1", score=0.5), WHEN, "p")  # regrading an older submission
        store.record(make("alice", "x1", assignment="week01-other"), WHEN, "p")
        latest = store.latest("week00-toy")
    assert [(r.student, r.content_hash, r.score) for r in latest] == [("alice", "a2", 3.0), ("bob", "b1", 1.0)]


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path):
    db = tmp_path / "g.db"
    with Store(db) as store:
        first = make()
        store.record(first, WHEN, "p")
        broken = make(tests=[*first.tests, TestResult("t::x", "x", "x", None, True, "")])  # type: ignore[arg-type]
        with pytest.raises(sqlite3.IntegrityError):  # the last test row violates NOT NULL
            store.record(broken, WHEN, "p")
        with pytest.raises(sqlite3.IntegrityError):
            store.record(make("carol", tests=broken.tests), WHEN, "p")
        assert store.latest("week00-toy") == [first]
        store.record(make("dave"), WHEN, "p")  # and the store still works afterwards
    assert count(db, "SELECT COUNT(*) FROM runs") == 2
    assert count(db, "SELECT COUNT(*) FROM test_results") == 4
    assert count(db, "SELECT COUNT(*) FROM students WHERE name = 'carol'") == 0


def test_threads_can_share_one_store(tmp_path: Path):
    with Store(tmp_path / "g.db") as store:
        def work(k: int) -> None:
            for i in range(25):
                store.record(make(f"s{k}", f"h{i}"), WHEN, "p")

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [r.content_hash for r in store.latest("week00-toy")] == ["h24"] * 4
    assert count(tmp_path / "g.db", "SELECT COUNT(*) FROM runs") == 100


def test_a_file_that_is_not_a_database_is_a_one_line_error(tmp_path: Path):
    bad = tmp_path / "gradebook.db"
    bad.write_bytes(b"this is not SQLite\n" * 300)
    with pytest.raises(UserError) as caught:
        Store(bad)
    message = str(caught.value)
    assert message.startswith(str(bad)) and "not a readable gradebook" in message and "\n" not in message
    assert bad.read_bytes() == b"this is not SQLite\n" * 300  # untouched


def test_a_truncated_database_is_a_one_line_error(tmp_path: Path):
    db = tmp_path / "g.db"
    with Store(db) as store:
        for i in range(200):
            store.record(make(f"s{i}", output="x" * 2000), WHEN, "p")
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3] + b"\x00garbage" * 2000)
    Path(f"{db}-wal").unlink(missing_ok=True)
    with pytest.raises(UserError, match="gradebook"), Store(db) as store:
        store.latest("week00-toy")


def test_a_newer_schema_version_is_refused(tmp_path: Path):
    db = tmp_path / "g.db"
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(UserError, match=rf"schema version {SCHEMA_VERSION + 1} is newer") as caught:
        Store(db)
    assert str(db) in str(caught.value)


def test_someone_elses_sqlite_database_is_refused_not_modified(tmp_path: Path):
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE students (who TEXT)")
    with pytest.raises(UserError, match="not a gradebook"):
        Store(db)
    assert count(db, "SELECT COUNT(*) FROM sqlite_master") == 1


WRITER = """
import sys
from pathlib import Path
from autograder.harness import TestResult
from autograder.results import GradeResult, Status
from autograder.store import Store

path, start = Path(sys.argv[1]), int(sys.argv[2])
with Store(path) as store:
    for i in range(start, start + 1_000_000):
        tests = [TestResult(f"t.py::test_{k}", f"test_{k}", f"check {k}", 1.0, (i + k) % 3 == 0, "m" * 100)
                 for k in range(TESTS)]
        result = GradeResult(f"s{i % 37:03d}", "week00-toy", f"h{i % 111}", Status.graded,
                             score=sum(t.score for t in tests), max_score=TESTS, tests=tests,
                             output=f"run {i} " + "x" * 3000)
        store.record(result, "2026-01-05T12:00:00+00:00", f"submitted/{i}")
        print(i, flush=True)  # acknowledged: committed
"""
TESTS = 40


def _write_until_killed(db: Path, start: int, rng: random.Random) -> list[int]:
    """Run WRITER, SIGKILL it at a random moment after some acknowledgements; return every index it acknowledged."""
    acks_before_kill = rng.randint(20, 80)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", WRITER.replace("TESTS", str(TESTS)), str(db), str(start)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    acked: list[int] = []
    try:
        assert proc.stdout is not None
        while len(acked) < acks_before_kill:
            line = proc.stdout.readline()
            assert line, f"the writer stopped early: {proc.stderr.read() if proc.stderr else ''}"
            acked.append(int(line))
        time.sleep(rng.uniform(0, 0.004))  # land anywhere in the next write, not just before it
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        acked += [int(line) for line in proc.stdout.read().split()]  # printed before the kill landed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return acked


def _check_consistent(db: Path, acked: set[int]) -> set[int]:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        per_run = conn.execute("SELECT r.id, COUNT(t.id) FROM runs r LEFT JOIN test_results t ON t.run_id = r.id "
                               "GROUP BY r.id").fetchall()
        assert {n for _, n in per_run} == {TESTS}, "a run was stored without all its test results"
        latest_per_submission = conn.execute(
            "SELECT s.id, SUM(r.is_latest), MAX(r.id), MAX(CASE WHEN r.is_latest THEN r.id END) "
            "FROM submissions s LEFT JOIN runs r ON r.submission_id = s.id GROUP BY s.id").fetchall()
        assert all(n == 1 and newest == latest for _, n, newest, latest in latest_per_submission), \
            "a submission without exactly one latest run, or whose latest run is not its newest"
        stored = [int(output.split()[1]) for (output,) in conn.execute("SELECT output FROM runs")]
    assert acked <= set(stored), f"acknowledged but lost: {sorted(acked - set(stored))[:10]}"
    return set(stored)


def test_sigkill_midway_loses_and_duplicates_nothing(tmp_path: Path):
    db = tmp_path / "gradebook.db"
    acked: set[int] = set()
    unacked_commits = 0
    start = 0
    rng = random.Random(7)
    for _ in range(8):  # kill, check, resume where the acknowledgements stopped, kill again
        new = _write_until_killed(db, start, rng)
        acked |= set(new)
        stored = _check_consistent(db, acked)
        unacked_commits = len(stored - acked)
        assert unacked_commits <= 1  # at most the one committed just before the kill, not yet printed
        start = max(new) + 1
    with Store(db) as store:
        latest = store.latest("week00-toy")
        assert len(latest) == len({r.student for r in latest}) == 37
        assert all(len(r.tests) == TESTS and r.score == sum(t.score for t in r.tests) for r in latest)
        assert all(store.is_done(f"s{i % 37:03d}", "week00-toy", f"h{i % 111}") for i in acked)
        store.record(make("after-crash"), WHEN, "p")  # and it takes writes again
        assert store.is_done("after-crash", "week00-toy", "h1")


# The gradebook as version 1 of the autograder wrote it: the migration must keep every row of it.
_SCHEMA_V1 = [
    "CREATE TABLE students (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
    """CREATE TABLE submissions (id INTEGER PRIMARY KEY, student_id INTEGER NOT NULL REFERENCES students(id),
        assignment TEXT NOT NULL, content_hash TEXT NOT NULL, submitted_at TEXT NOT NULL, path TEXT NOT NULL,
        UNIQUE (student_id, assignment, content_hash))""",
    "CREATE INDEX submissions_by_assignment ON submissions (assignment, student_id)",
    """CREATE TABLE runs (id INTEGER PRIMARY KEY, submission_id INTEGER NOT NULL REFERENCES submissions(id),
        status TEXT NOT NULL CHECK (status IN ('graded', 'ungradable', 'error')), score REAL NOT NULL,
        max_score REAL NOT NULL, reason TEXT NOT NULL, backend TEXT NOT NULL, started_at TEXT NOT NULL,
        duration_s REAL NOT NULL, output TEXT NOT NULL, cell_errors_json TEXT NOT NULL,
        is_latest INTEGER NOT NULL CHECK (is_latest IN (0, 1)))""",
    "CREATE INDEX runs_by_submission ON runs (submission_id)",
    "CREATE UNIQUE INDEX runs_one_latest ON runs (submission_id) WHERE is_latest = 1",
    """CREATE TABLE test_results (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id),
        test_id TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL, points REAL NOT NULL,
        passed INTEGER NOT NULL CHECK (passed IN (0, 1)), message TEXT NOT NULL)""",
    "CREATE INDEX test_results_by_run ON test_results (run_id)",
]


def _version_1_gradebook(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        for statement in _SCHEMA_V1:
            conn.execute(statement)
        conn.execute("INSERT INTO students (id, name) VALUES (1, 'alice'), (2, 'bob')")
        conn.execute("INSERT INTO submissions VALUES (1, 1, 'week00-toy', 'h1', ?, 'a'), (2, 2, 'week00-toy', 'h2',"
                     " ?, 'b')", (WHEN, WHEN))
        conn.execute("INSERT INTO runs VALUES (1, 1, 'error', 0, 3.5, 'crashed', 'local', ?, 1, '', '[]', 0),"
                     " (2, 1, 'graded', 2, 3.5, '', 'local', ?, 1.25, 'out', '[]', 1),"
                     " (3, 2, 'ungradable', 0, 3.5, 'empty', 'local', ?, 0, '', '[]', 1)", (WHEN,) * 3)
        conn.execute("INSERT INTO test_results VALUES (1, 2, 't::a', 'a', 'A', 2, 1, ''), (2, 2, 't::b', 'b', 'B', "
                     "1.5, 0, 'no')")
        conn.execute("PRAGMA user_version = 1")


def test_a_version_1_gradebook_is_migrated_keeping_every_row(tmp_path: Path):
    db = tmp_path / "gradebook.db"
    _version_1_gradebook(db)
    with sqlite3.connect(db) as conn:
        before = {table: conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()  # noqa: S608
                  for table in ("students", "submissions", "runs", "test_results")}
    with Store(db) as store:
        latest = {r.student: r for r in store.latest("week00-toy")}
        assert (latest["alice"].status, latest["alice"].score, latest["bob"].status) == \
            (Status.graded, 2, Status.ungradable)
        assert [t.name for t in latest["alice"].tests] == ["a", "b"] and latest["alice"].review == []
        assert store.is_done("alice", "week00-toy", "h1")
        store.record(make(student="carol", status=Status.needs_review, review=["why"]), WHEN, "c")  # the new status
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        for table in ("students", "submissions", "test_results"):
            rows = conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()[:len(before[table])]  # noqa: S608
            width = len(before[table][0])
            assert [row[:width] for row in rows] == before[table]
            assert all(row[width:] == (0, 0, None) for row in rows) if table == "test_results" else True
        runs = conn.execute("SELECT * FROM runs WHERE id <= 3 ORDER BY id").fetchall()
        # old runs: no review, nothing tampered, no check output kept; submission time unknown, no penalty (v3)
        assert [row[:12] for row in runs] == before["runs"] and {row[12:15] for row in runs} == {("[]", "[]", "")}
        # ... and their language is not known (v5: '' is the course's base language)
        assert {row[15:] for row in runs} == {("", "", "", 0.0, 0.0, "")}
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"runs_by_submission", "runs_one_latest"} <= indexes
        with pytest.raises(sqlite3.IntegrityError):  # still at most one latest run per submission
            conn.execute("UPDATE runs SET is_latest = 1 WHERE id = 1")
        with pytest.raises(sqlite3.IntegrityError):  # and the status is still checked
            conn.execute("UPDATE runs SET status = 'great' WHERE id = 2")
    with Store(db) as store:  # opening again changes nothing
        assert {r.student for r in store.latest("week00-toy")} == {"alice", "bob", "carol"}


def test_foreign_keys_are_enforced_after_a_migration(tmp_path: Path):
    db = tmp_path / "gradebook.db"
    _version_1_gradebook(db)
    with Store(db) as store, pytest.raises(sqlite3.IntegrityError):
        store._conn.execute("INSERT INTO test_results (run_id, test_id, name, description, points, passed, message) "
                            "VALUES (999, 'x', 'x', 'x', 1, 1, '')")


def test_pending_manual_parts_and_forgeable_verdicts_round_trip(tmp_path: Path):
    """nbgrader's manually graded cells are stored as pending (counted in the maximum, no points yet); a test cell
    run in the sandbox keeps its forgeable label."""
    db = tmp_path / "gradebook.db"
    tests = [TestResult("problem1.ipynb::squares_test", "squares_test", "squares", 1.0, True, "", forgeable=True),
             TestResult("problem1.ipynb::part_b", "part_b", "markdown answer part_b", 2.0, False,
                        "pending manual review", pending=True)]
    original = make(tests=tests, score=1.0, max_score=3.0, assignment="ps1")
    with Store(db) as store:
        store.record(original, WHEN, "submitted/alice/ps1")
    with Store(db) as store:
        (back,) = store.latest("ps1")
    assert back == original
    assert [t.pending for t in back.tests] == [False, True] and [t.forgeable for t in back.tests] == [True, False]


def test_a_version_3_gradebook_gains_the_pending_columns(tmp_path: Path):
    db = tmp_path / "gradebook.db"
    _version_1_gradebook(db)
    with Store(db):
        pass
    with sqlite3.connect(db) as conn:  # back to version 3: test_results without the two columns
        conn.execute("CREATE TABLE t2 (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), "
                     "test_id TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL, points REAL NOT NULL, "
                     "passed INTEGER NOT NULL CHECK (passed IN (0, 1)), message TEXT NOT NULL)")
        conn.execute("INSERT INTO t2 SELECT id, run_id, test_id, name, description, points, passed, message "
                     "FROM test_results")
        conn.execute("DROP TABLE test_results")
        conn.execute("ALTER TABLE t2 RENAME TO test_results")
        conn.execute("DROP TABLE reviews")  # (version 5's)
        conn.execute("PRAGMA user_version = 3")
    with Store(db) as store:
        alice = next(r for r in store.latest("week00-toy") if r.student == "alice")
        assert [(t.name, t.pending, t.forgeable) for t in alice.tests] == [("a", False, False), ("b", False, False)]
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
