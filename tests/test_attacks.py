"""The attack corpus (the 29 classes of /work/shared/reference/attacks.md) as regression tests.

Every malicious submission is the released toy reference (`solutions/week00-toy/toy.ipynb`) with attack code
injected: an answer cell replaced (`answer-add`, `answer-scale`) or a code cell appended. The attack code lives
in tests/attacks/, one file per attack. Function-level attacks answer the public check cell's own call
(`add(1, 2)`, `scale([1, 2], 2)`) honestly, so that they meet only the hidden checks, as a real attacker would.

Each test asserts both *safety* (the host, the grader and the other submissions are unaffected and nothing is
lost or left behind) and the *outcome* (0 for the forged part, a plain-words reason, honest parts still scored).
To keep the file fast, submissions are graded in a few shared batches (module-scoped fixtures) and each test
reads its own student's result:

- ``big``: 31 students of a toy course with low limits (20 s in all, 4 s per call, 512 MiB), `grade()` with
  jobs=2, watched from the host while it runs (processes in our sandboxes, forks on the host), then the host's
  own listening sockets and folders checked;
- ``sequential``: jobs=1, so one sandbox serves them all in order: an honest student needing 300 MiB, a
  detached-process attacker, an atexit attacker, one that leaves traces everywhere, an honest follower that
  looks for them, a root-folder filler, and the honest 300 MiB student again;
- ``isolation``: jobs=2, a course with canaries planted in its hidden checks, solutions and course.yml, and an
  extra hidden tensor check: a submission that leaves traces while another, at the same time, searches the
  whole visible filesystem, /proc, argv and the environment; a tensor-subclass attacker and an honest one;
- (the message format itself, which needs no sandbox, is tested in tests/test_protocol.py).

The engine defects this corpus found (a reply trickling in, runner folders left by killed workers, a writable
sandbox root shared by consecutive submissions) are fixed; their tests stay as regressions.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from autograder.config import Course
from autograder.grading import GRADEBOOK, grade
from autograder.reports import export_csv, export_gradescope, result_json_path
from autograder.results import GradeResult, Status
from autograder.sandboxes.bubblewrap import kept_in_wiped_places
from autograder.sandboxes.common import RUNNER_DIR_PREFIX, owner_token
from autograder.store import Store

from .corpus import (
    ASSIGNMENT,
    CHECKS,
    DISK_PLACES,
    attack,
    attack_cells,
    build,
    host_listeners,
    message,
    passed,
    printed,
    printed_text,
    processes_named,
    toy_course,
)

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")

ADD_CHECKS, SCALE_CHECK = CHECKS[:2], CHECKS[2]
RUN_MARK = f"AG_ATTACK_RUN={uuid.uuid4().hex}"  # in the environment of every bwrap this module starts
HOST_NEEDLE = "AGCANARY"  # prefix of every canary and marker the isolation batch plants
# what the big batch's attackers leave in the sandbox; the last student looks for it in the same sandbox
LEFTOVERS = ["fill-", "conftest.py", "pytest.ini", "sitecustomize", "usercustomize", "evilplugin", "results.json",
             "result.json", "report.xml", "numpy.py", "torch.py", "FORGED"]


# --- watching the host ---------------------------------------------------------------------------

def _read(path: str, binary: bool = False) -> Any:
    try:
        with open(path, "rb" if binary else "r") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return b"" if binary else ""


def _parents() -> dict[int, int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            match = re.search(r"^PPid:\s+(\d+)", _read(f"/proc/{entry}/status"), re.M)
            if match:
                parents[int(entry)] = int(match.group(1))
    return parents


def _marked(pid: int) -> bool:
    return RUN_MARK.encode() in _read(f"/proc/{pid}/environ", binary=True).split(b"\0")


def sandbox_processes() -> dict[int, str]:
    """{pid: comm} of every process inside the sandboxes this module started: bwrap starts with an empty
    environment, so a sandbox is a bwrap whose parent (a grading worker) carries RUN_MARK."""
    parents = _parents()
    roots = {pid for pid, parent in parents.items() if _read(f"/proc/{pid}/comm").strip() == "bwrap"
             and _read(f"/proc/{parent}/comm").strip() != "bwrap" and _marked(parent)}
    found = set(roots)
    grew = True
    while grew:
        new = {pid for pid, parent in parents.items() if parent in found} - found
        found |= new
        grew = bool(new)
    return {pid: _read(f"/proc/{pid}/comm").strip() for pid in found}


def wait_no_sandbox_processes(timeout: float = 10.0) -> dict[int, str]:
    deadline = time.monotonic() + timeout
    while (left := sandbox_processes()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@dataclass
class HostWatch:
    """Samples the host while a batch runs: our sandboxes' processes, their runner dirs and cgroups, and
    whether the host can still fork a process."""

    most_processes: int = 0
    runner_dirs: set[str] = field(default_factory=set)
    cgroups: set[str] = field(default_factory=set)
    fork_failures: list[str] = field(default_factory=list)
    fork_probes: int = 0
    slowest_fork: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def _sample(self) -> None:
        while not self._stop.is_set():
            procs = sandbox_processes()
            self.most_processes = max(self.most_processes, len(procs))
            for pid, comm in procs.items():
                if comm != "bwrap":
                    continue
                worker = _parents().get(pid)
                if worker and _marked(worker):  # the runner folders carry their worker's owner token
                    self.runner_dirs |= {str(p) for p in Path(tempfile.gettempdir()).glob(
                        f"{RUNNER_DIR_PREFIX}{owner_token(worker)}-*")}
                for line in _read(f"/proc/{pid}/cgroup").splitlines():
                    if "/autograder/autograder-" in line:
                        _, controller, path = line.split(":", 2)
                        self.cgroups.add(f"/sys/fs/cgroup/{controller}{path}")
            self._stop.wait(0.2)

    def _fork(self) -> None:
        while not self._stop.is_set():
            start = time.monotonic()
            try:
                subprocess.run(["/bin/true"], check=True, timeout=20)
            except (OSError, subprocess.SubprocessError) as exc:
                self.fork_failures.append(repr(exc))
            self.slowest_fork = max(self.slowest_fork, time.monotonic() - start)
            self.fork_probes += 1
            self._stop.wait(0.5)

    @contextlib.contextmanager
    def running(self) -> Iterator[HostWatch]:
        threads = [threading.Thread(target=self._sample, daemon=True), threading.Thread(target=self._fork, daemon=True)]
        for thread in threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(30)


@pytest.fixture(scope="module", autouse=True)
def marked_environment() -> Iterator[None]:
    """Every worker (and so every bwrap) started by this module carries RUN_MARK in its environment."""
    key, value = RUN_MARK.split("=")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(key, value)
        yield


@dataclass
class Graded:
    """One batch: the results by student, what the host saw meanwhile, and what was left after."""

    course: Course
    results: dict[str, GradeResult]
    watch: HostWatch
    leftover: dict[int, str]
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, student: str) -> GradeResult:
        return self.results[student]


def grade_batch(course: Course, folder: Path, jobs: int,
                on_result: Callable[[GradeResult], None] | None = None) -> Graded:
    started = time.monotonic()
    with HostWatch().running() as watch:
        batch = grade(course, course.assignment(ASSIGNMENT), submissions=folder, jobs=jobs, regrade=True,
                      on_result=on_result)
    leftover = wait_no_sandbox_processes()
    return Graded(course, {r.student: r for r in batch.results}, watch, leftover, time.monotonic() - started)


# --- reading results -----------------------------------------------------------------------------

def assert_graded(result: GradeResult, score: float, passing: set[str] | tuple[str, ...] | list[str],
                  max_score: float = 6) -> None:
    assert result.status == Status.graded, (result.status, result.reason)
    assert result.max_score == max_score
    assert passed(result) == set(passing), [(t.name, t.passed, t.message) for t in result.tests]
    assert result.score == score


# --- the big batch -------------------------------------------------------------------------------

def big_students(port: int, abstract: str) -> dict[str, dict[str, Any]]:
    return {
        "honest": {},
        "fork-bomb": {"add": attack("fork_bomb")},
        "thread-bomb": {"after": [attack("thread_bomb")]},
        "memory-bomb": {"scale": attack("memory_bomb")},
        **{f"disk-fill-{name}": {"scale": attack("disk_fill", places=[place])}
           for name, place in DISK_PLACES.items()},
        "loop-import": {"after": [attack("loop_import")]},
        "loop-function": {"add": attack("loop_function")},
        "ignore-signals": {"add": attack("ignore_signals")},
        "catch-timeout": {"add": attack("catch_timeout")},
        "os-exit-function": {"add": attack("os_exit_function")},
        "os-exit-import": {"after": [attack("os_exit_import")]},
        "keyboard-interrupt-function": {"add": attack("keyboard_interrupt_function")},
        "system-exit-function": {"scale": attack("system_exit_function")},
        "raise-in-cells": {"after": attack_cells("raise_in_cells")},
        "patch-pytest": {"after": [attack("patch_pytest")]},
        "dropped-files": {"after": [attack("dropped_files")]},
        "module-shadowing": {"after": [attack("module_shadowing")]},
        "always-equal-subclasses": {"add": attack("always_equal_subclasses"), "scale": ""},
        "always-equal-objects": {"add": attack("always_equal_objects"), "scale": ""},
        "frame-inspection": {"add": attack("frame_inspection")},
        "fake-results": {"after": [attack("fake_results")]},
        "network": {"after": [attack("network", port=port, abstract=abstract)]},
        "huge-output": {"after": [attack("huge_output")]},
        "channel-garbage": {"add": attack("channel_garbage")},
        "channel-oversized": {"add": attack("channel_oversized")},
        "channel-unsolicited": {"add": attack("channel_unsolicited")},
        "channel-bad-ext": {"add": attack("channel_bad_ext"), "scale": ""},
        "channel-slow-drip": {"add": attack("channel_slow_drip")},
        "zz-follower": {"after": [attack("other_follower", needles=LEFTOVERS)]},
    }


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Graded]:
    base = tmp_path_factory.mktemp("big")
    course = toy_course(base, time_limit=20, call_time_limit=4, memory="512MiB")
    folder = base / "submissions"
    with host_listeners() as listening:
        for student, parts in big_students(listening.port, listening.abstract).items():
            build(course, folder / f"{student}.ipynb", **parts)
        graded = grade_batch(course, folder, jobs=2)
    graded.extra["accepted"] = listening.accepted
    graded.extra["host_fill_files"] = [str(p) for p in [*Path("/tmp").glob("fill-*.bin"),
                                                        *Path("/dev/shm").glob("fill-*.bin"),
                                                        *course.root.rglob("fill-*.bin")]]
    yield graded


# --- the big batch: safety of the host and the grader --------------------------------------------

def test_the_honest_student_gets_full_marks_beside_the_attackers(big: Graded):
    assert_graded(big["honest"], 6, CHECKS)
    assert big["honest"].reason == "" and big["honest"].cell_errors == []


def test_every_submission_is_in_the_gradebook_and_its_result_file(big: Graded):
    assert set(big.results) == set(big_students(0, ""))
    with Store(big.course.root / GRADEBOOK) as store:
        latest = {r.student: r for r in store.latest(ASSIGNMENT)}
    assert set(latest) == set(big.results)
    for student, result in big.results.items():
        assert latest[student].score == result.score and latest[student].status == result.status, student
        on_disk = json.loads(result_json_path(big.course.root, result).read_text())
        assert on_disk["score"] == result.score and on_disk["status"] == result.status.value, student
    errors = {s: r.reason for s, r in big.results.items() if r.status != Status.graded}
    assert errors == {}, errors


def test_no_sandbox_process_outlives_the_batch(big: Graded):
    assert big.watch.runner_dirs, "the host watch never saw a sandbox: it would pass vacuously"
    assert big.leftover == {}, f"sandbox processes left after grade() returned: {big.leftover}"
    assert sandbox_processes() == {}
    assert subprocess.run(["/bin/true"], timeout=10).returncode == 0


def test_no_runner_folder_or_cgroup_is_left_on_the_host(big: Graded):
    assert big.watch.runner_dirs
    left = [d for d in big.watch.runner_dirs if Path(d).exists()]
    left += [g for g in big.watch.cgroups if Path(g).exists()]
    assert left == [], f"left on the host after grade() returned: {left}"


def test_fork_bomb_is_contained_and_the_host_can_still_fork(big: Graded):
    result = big["fork-bomb"]
    assert printed_text(result).count("F") > 64, "the fork bomb never forked: the test would pass vacuously"
    assert_graded(result, 3, [SCALE_CHECK])
    for check in ADD_CHECKS:  # whichever limit stops it first: time, or the memory its copies touch
        assert re.fullmatch(rf"(took longer than 4 s|ran out of memory \(limit 512 MiB\)) while calling `add` in "
                            rf"{check}", message(result, check)), message(result, check)
    watch = big.watch
    assert watch.most_processes <= 2 * 256 + 8, "more processes than two sandboxes' pids limits allow"
    assert watch.fork_probes > 10 and watch.fork_failures == [], watch.fork_failures
    assert watch.slowest_fork < 10


def test_thread_bomb_stops_at_the_process_limit(big: Graded):
    result = big["thread-bomb"]
    assert_graded(result, 6, CHECKS)
    started = int(re.search(r"THREAD-BOMB stopped after (\d+) threads", printed_text(result)).group(1))
    assert 16 < started < 256


def test_memory_bomb_costs_only_its_own_check(big: Graded):
    result = big["memory-bomb"]
    assert_graded(result, 3, ADD_CHECKS)
    # near its limit the kernel first reclaims the sandbox's file cache (the runtime's own libraries), which can
    # make the last allocations slow: on a slow or loaded host the call's time limit may end the bomb first
    assert message(result, SCALE_CHECK) in {"ran out of memory (limit 512 MiB) while calling `scale` in test_scale",
                                            "took longer than 4 s while calling `scale` in test_scale"}
    assert re.search(r"memory|took longer", result.reason), result.reason


@pytest.mark.parametrize("place", DISK_PLACES)
def test_disk_fill_stays_in_the_sandbox(big: Graded, place: str):
    result = big[f"disk-fill-{place}"]
    assert set(ADD_CHECKS) <= passed(result), result.tests
    assert result.status == Status.graded
    written = [int(n) for n in re.findall(r"^DISK-FILL \S+ (?:full after )?(\d+)", printed_text(result), re.M)]
    assert written and max(written) >= 256 << 20, "the attack did not fill anything: it would pass vacuously"
    if SCALE_CHECK not in passed(result):  # stopped by a limit, said in plain words: which limit comes first
        # (the sandbox's memory, the tmpfs's size, or the call's time on a slow or loaded machine) is the host's
        assert re.search(r"memory|disk|space|file size|took longer than \d+ s", message(result, SCALE_CHECK)), \
            result.tests
    else:  # every write failed cleanly (a full tmpfs) and the right answer came back: it earns the check
        assert "full after" in printed_text(result)
    # it wrote to a size-capped tmpfs (memory charged to the sandbox), not to a disk of the host's
    mount_point, kind = re.search(r"^DISK-FILL-FS \S+ (\S+) (\S+)$", printed_text(result), re.M).groups()
    assert kind == "tmpfs" and mount_point == DISK_PLACES[place], (mount_point, kind)
    assert big.extra["host_fill_files"] == []


def test_the_last_submission_finds_nothing_left_in_the_wiped_places(big: Graded):
    result = big["zz-follower"]
    assert_graded(result, 6, CHECKS)
    seen = printed(result, "FOLLOWER")
    assert re.fullmatch(r"/work/scratch/s([2-9]|\d\d+)", seen["cwd"]), "it should follow others in its sandbox"
    assert seen["hits"] == [], seen["hits"]
    # only its own namespace's init and itself: bwrap's init, the zygote and every earlier submission are hidden
    assert set(seen["processes"].values()) <= {"python", "python3"}, seen["processes"]
    assert len(seen["processes"]) == 2, seen["processes"]


# --- the big batch: time ---------------------------------------------------------------------------

def test_infinite_loop_at_import_scores_zero_with_a_time_reason(big: Graded):
    result = big["loop-import"]
    assert_graded(result, 0, [])
    assert "your notebook did not finish running" in result.reason and "took longer than" in result.reason
    assert all("did not finish running" in t.message for t in result.tests)


@pytest.mark.parametrize("student", ["loop-function", "ignore-signals", "catch-timeout"])
def test_a_runaway_function_costs_only_its_checks(big: Graded, student: str):
    """An infinite loop, one that ignores every catchable signal, and one that catches BaseException around a
    timeout to return the right answer: the kill comes from outside, and the other check still scores after
    the restart."""
    result = big[student]
    assert_graded(result, 3, [SCALE_CHECK])
    for check in ADD_CHECKS:
        assert message(result, check) == f"took longer than 4 s while calling `add` in {check}"
    assert "took longer than 4 s" in result.reason


# --- the big batch: exits and exceptions -----------------------------------------------------------

def test_os_exit_in_a_function_fails_only_its_checks(big: Graded):
    result = big["os-exit-function"]
    assert_graded(result, 3, [SCALE_CHECK])
    for check in ADD_CHECKS:
        assert message(result, check).startswith("the submission's process exited (status 0) while calling `add`")
    assert "exited (status 0)" in result.reason


def test_os_exit_at_import_scores_zero(big: Graded):
    result = big["os-exit-import"]
    assert_graded(result, 0, [])
    assert "your notebook did not finish running" in result.reason and "exited (status 0)" in result.reason


def test_keyboard_interrupt_and_system_exit_in_functions_fail_only_their_checks(big: Graded):
    result = big["keyboard-interrupt-function"]
    assert_graded(result, 3, [SCALE_CHECK])
    # the type and where in the student's own cell, never the exception's message (attacks.md #36)
    assert all(re.fullmatch(r"`add` raised KeyboardInterrupt \(in cell answer-add, line \d+\)", message(result, c))
               for c in ADD_CHECKS), result.tests
    result = big["system-exit-function"]
    assert_graded(result, 3, ADD_CHECKS)
    assert re.fullmatch(r"`scale` raised SystemExit \(in cell answer-scale, line \d+\)", message(result, SCALE_CHECK))


def test_raises_in_cells_are_recorded_not_obeyed(big: Graded):
    result = big["raise-in-cells"]
    assert [e["error_type"] for e in result.cell_errors] == ["KeyboardInterrupt", "SystemExit", "Escape", "Exit"]
    # the cell after them ran (it redefines scale wrongly), and the honest add still scores
    assert_graded(result, 3, ADD_CHECKS)


# --- the big batch: tampering with the checks --------------------------------------------------------

def test_patching_pytest_in_the_sandbox_has_no_effect(big: Graded):
    result = big["patch-pytest"]
    assert "PATCHED _pytest" in printed_text(result), "the patch never ran: the test would pass vacuously"
    assert_graded(result, 3, [SCALE_CHECK])
    assert message(result, "test_add_integers") == "add should return the sum of its arguments"


def test_dropped_pytest_config_and_site_files_have_no_effect(big: Graded):
    result = big["dropped-files"]
    dropped = printed(result, "DROPPED")
    cwd = next(p for p in dropped if p.startswith("/work/scratch/s")).rsplit("/", 1)[0]
    for place in (cwd, "/tmp"):  # cwd is also HOME
        for name in ("conftest.py", "pytest.ini", "sitecustomize.py", "usercustomize.py"):
            assert f"{place}/{name}" in dropped
    assert_graded(result, 3, [SCALE_CHECK])
    names = ("conftest.py", "pytest.ini", "evilplugin.py", "sitecustomize.py", "usercustomize.py", "tox.ini")
    hidden = big.course.root / "tests" / "hidden"
    assert [p for p in big.course.root.rglob("*") if p.name in names] == []
    assert sorted(p.name for p in (hidden / ASSIGNMENT).iterdir() if p.name != "__pycache__") == \
        ["test_toy.py", "wrong"]
    assert not any((Path("/tmp") / name).exists() for name in ("evilplugin.py", "usercustomize.py"))


def test_module_shadowing_has_no_effect(big: Graded):
    result = big["module-shadowing"]
    assert "numpy.py" in printed_list(result, "SHADOWED")
    assert_graded(result, 3, ADD_CHECKS)
    assert message(result, SCALE_CHECK) == "scale should multiply every entry by k"


def printed_list(result: GradeResult, tag: str) -> list[str]:
    line = next(line for line in printed_text(result).splitlines() if line.startswith(tag + " "))
    return re.findall(r"'([^']*)'", line)


@pytest.mark.parametrize("student", ["always-equal-subclasses", "always-equal-objects"])
def test_always_equal_values_score_nothing(big: Graded, student: str):
    """Subclasses of int / ndarray arrive as plain values with their real (wrong) data; other objects stay in the
    sandbox as handles, whose comparisons are plain identity on the trusted side."""
    result = big[student]
    assert_graded(result, 0, [])
    if student == "always-equal-subclasses":
        assert [t.message for t in result.tests] == ["add should return the sum of its arguments",
                                                     "add should work for floats too",
                                                     "scale should multiply every entry by k"]


def test_frame_inspection_finds_no_expected_values(big: Graded):
    result = big["frame-inspection"]
    assert "FRAMES ['op_call', 'answer', 'serve'" in printed_text(result), "the frame walk never ran"
    assert "SOURCES" in printed_text(result)
    for line in printed_text(result).splitlines():
        if line.startswith("SOURCES"):
            assert line.endswith("False False"), line  # no hidden test source on the stack
    numbers = " ".join(line for line in printed_text(result).splitlines() if line.startswith("NUMBERS"))
    assert numbers and "42" not in re.findall(r"\b\d+\b", numbers) and "0.75" not in numbers
    assert_graded(result, 3, [SCALE_CHECK])


def test_fake_result_files_have_no_effect(big: Graded):
    result = big["fake-results"]
    written = printed(result, "FAKE-RESULTS")
    assert {"/tmp/results.json", "/tmp/report.xml", "/dev/shm/result.json"} <= set(written)
    assert not {"/work/result.json", "/results.json"} & set(written)  # read-only outside the wiped tmpfs
    assert any(p.startswith("/work/scratch/s") and p.endswith("/results.json") for p in written)
    assert_graded(result, 0, [])
    on_disk = json.loads(result_json_path(big.course.root, result).read_text())
    assert on_disk["score"] == 0 and on_disk["student"] == "fake-results"
    assert not (big.course.root / "autograded" / "student").exists()
    assert [p for p in big.course.root.rglob("*") if p.name in ("results.json", "report.xml")] == []


# --- the big batch: reaching out -----------------------------------------------------------------------

def test_network_is_unreachable(big: Graded):
    result = big["network"]
    assert_graded(result, 6, CHECKS)
    tries = printed(result, "NETWORK")
    # the submission's own network namespace: even its loopback is down
    assert "unreachable" in tries["loopback"] or tries["loopback"].startswith("ConnectionRefusedError"), tries
    assert tries["abstract"].startswith("ConnectionRefusedError"), tries
    for name in ("outside", "outside-udp", "outside-ipv6"):  # no route, or no address at all to send from
        assert "unreachable" in tries[name] or "Cannot assign requested address" in tries[name], tries
    assert tries["dns"].startswith("gaierror"), tries
    assert tries["interfaces"] == ["lo"] and tries["routes"] <= 0  # (no table at all in its own namespace)
    assert big.extra["accepted"] == [], "the host's listening sockets were reached from the sandbox"


def test_huge_output_is_capped_and_the_submission_still_graded(big: Graded):
    result = big["huge-output"]
    assert_graded(result, 6, CHECKS)
    assert len(result.output.encode()) < 300 * 1024
    dropped = int(re.search(r"\[… (\d+) more bytes of output were discarded\]", result.output).group(1))
    assert dropped > 50 * 1024 * 1024
    assert result_json_path(big.course.root, result).stat().st_size < 1024 * 1024


# --- the big batch: the runner's channel ------------------------------------------------------------

@pytest.mark.parametrize(("student", "why"), [
    ("channel-garbage", "malformed message"),
    ("channel-oversized", "a message of 4294967295 bytes is over the 67108864-byte limit"),
    ("channel-unsolicited", "too many unexpected messages"),
])
def test_messages_forged_on_the_channel_are_rejected(big: Graded, student: str, why: str):
    """The forged frames come before the function's honest (right!) answer: the call is rejected, the process
    restarted, and the honest scale still scores."""
    result = big[student]
    assert_graded(result, 3, [SCALE_CHECK])
    for check in ADD_CHECKS:
        assert message(result, check).startswith(f"sent a reply the grader cannot accept ({why}")
        assert message(result, check).endswith(f"while calling `add` in {check}")
    assert "the grader cannot accept" in result.reason


def test_values_that_may_not_cross_are_rejected(big: Graded):
    result = big["channel-bad-ext"]
    assert_graded(result, 0, [])
    assert "array dtype object may not cross" in message(result, "test_add_integers")
    assert "unknown extension type 99" in message(result, SCALE_CHECK)


def test_a_reply_trickling_in_is_cut_at_the_call_limit(big: Graded):
    result = big["channel-slow-drip"]
    assert_graded(result, 3, [SCALE_CHECK])
    assert all(message(result, c).startswith("took longer than 4 s") for c in ADD_CHECKS)


# --- one sandbox, one submission after another: detached processes, atexit, traces left behind --------

DETACHED_NAME = f"agdet{uuid.uuid4().hex[:8]}"  # a process name (comm: at most 15 characters)
SEQUENTIAL_NEEDLES = [HOST_NEEDLE, DETACHED_NAME, "results.json", "report.xml", "ATEXIT"]


# an honest extra cell that needs 300 MiB for a moment, well within the 512 MiB limit
NEEDS_MEMORY = "import numpy as np\n\nhog = np.ones(300 << 17)\nprint('allocated', hog.nbytes)\ndel hog\n"


@pytest.fixture(scope="module")
def sequential(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    """jobs=1, so all share one worker and one sandbox, in this order."""
    base = tmp_path_factory.mktemp("sequential")
    course = toy_course(base, time_limit=20, call_time_limit=4, memory="512MiB")
    marker = f"{HOST_NEEDLE}-left-{uuid.uuid4().hex}"
    folder = base / "submissions"
    build(course, folder / "s0-needs-memory.ipynb", after=[NEEDS_MEMORY])
    build(course, folder / "s1-detached.ipynb", after=[attack("detached_child", name=DETACHED_NAME)])
    build(course, folder / "s2-atexit.ipynb", after=[attack("atexit_rewrite")])
    build(course, folder / "s3-writer.ipynb", after=[f"# {marker}\n" + attack("other_writer", marker=marker)])
    build(course, folder / "s4-follower.ipynb", after=[attack("other_follower", needles=[*SEQUENTIAL_NEEDLES, marker])])
    build(course, folder / "s5-root-fill.ipynb", scale=attack("disk_fill", places=["/"]))
    build(course, folder / "s6-needs-memory.ipynb", after=[NEEDS_MEMORY])
    alive_after: dict[str, list[int]] = {}

    def on_result(result: GradeResult) -> None:  # the submission has been reaped when its result exists
        alive_after[result.student] = processes_named(DETACHED_NAME)

    graded = grade_batch(course, folder, jobs=1, on_result=on_result)
    time.sleep(2)  # a survivor would have had time to rewrite something by now
    graded.extra.update(alive_after=alive_after, marker=marker, detached_after=processes_named(DETACHED_NAME))
    return graded


def test_a_detached_process_dies_with_its_submission(sequential: Graded):
    attacker = sequential["s1-detached"]
    assert "DETACHED started" in printed_text(attacker) and "DETACHED alive" in printed_text(attacker), \
        "the detached process never ran: the test would pass vacuously"
    # its own forged replies may even break its notebook's run; whatever happens, the wrong add earns nothing
    assert not set(ADD_CHECKS) & passed(attacker) and attacker.score <= 3
    assert sequential.extra["alive_after"]["s1-detached"] == [], "it outlived its submission's reaping"
    assert sequential.extra["detached_after"] == [] and sequential.leftover == {}
    seen = printed(sequential["s4-follower"], "FOLLOWER")
    assert DETACHED_NAME not in seen["processes"].values()


def test_atexit_handlers_change_nothing(sequential: Graded):
    result = sequential["s2-atexit"]
    assert "ATEXIT rewrote the results" in printed_text(result), "the handler never ran: the test would pass vacuously"
    assert_graded(result, 3, [SCALE_CHECK])
    assert re.fullmatch(r"`add` raised SystemExit \(in cell \d+, line \d+\)", message(result, "test_add_integers"))


def test_results_are_not_rewritten_later(sequential: Graded):
    assert_graded(sequential["s0-needs-memory"], 6, CHECKS)
    follower = sequential["s4-follower"]
    assert_graded(follower, 6, CHECKS)
    with Store(sequential.course.root / GRADEBOOK) as store:
        latest = {r.student: r for r in store.latest(ASSIGNMENT)}
    for student, result in sequential.results.items():
        on_disk = json.loads(result_json_path(sequential.course.root, result).read_text())
        assert on_disk == result.to_json(), student
        assert latest[student].score == result.score and latest[student].tests == result.tests, student


def test_the_next_submission_finds_nothing_in_the_wiped_places(sequential: Graded):
    writer = sequential["s3-writer"]
    assert "WRITER left its traces; shm segment" in printed_text(writer) and "segment -1" not in printed_text(writer)
    # kernel keyrings are refused by the system-call filter; its message queue lived in its own IPC namespace
    assert "WRITER keyring EPERM queue made" in printed_text(writer), printed_text(writer)[-500:]
    seen = printed(sequential["s4-follower"], "FOLLOWER")
    number = int(seen["cwd"].removeprefix("/work/scratch/s"))  # the zygote numbers the processes it forks
    assert number >= 5, "the follower should come after the four others in the same sandbox"
    assert seen["hits"] == [], seen["hits"]
    cwd = seen["cwd"]
    # the runtime, when it lives under /tmp (a checkout there), is bound read-only inside the wiped /tmp and stays
    runtime = {str(parent) for kept in kept_in_wiped_places() for parent in (Path(kept), *Path(kept).parents)}
    left = [p for p in seen["files"] if p not in ("/tmp", "/dev/shm", "/work/scratch", cwd, *runtime)
            and not p.startswith(cwd + "/")]
    assert left == [] and f"{cwd}/data.csv" in seen["files"], seen["files"]  # the public files, linked
    assert len(seen["processes"]) == 2, seen["processes"]  # its namespace's init and the follower


def test_the_next_submission_finds_nothing_anywhere(sequential: Graded):
    seen = printed(sequential["s4-follower"], "FOLLOWER")
    # only the three wiped, size-capped tmpfs are writable; the root, /dev, /work and /opt are read-only
    assert {"/tmp", "/dev/shm", "/work/scratch"} <= set(seen["writable_dirs"])
    # (and /dev/pts, a devpts: it holds terminals, not files, and they end with the submission's processes)
    assert [d for d in seen["writable_dirs"] if not d.startswith(("/tmp", "/dev/shm", "/work/scratch"))
            and d != "/dev/pts"] == []
    assert seen["elsewhere"] == [], seen["elsewhere"]


def test_a_full_root_folder_does_not_starve_the_next_student(sequential: Graded):
    attacker = sequential["s5-root-fill"]
    said = printed_text(attacker)
    assert "DISK-FILL / full after 0 bytes: Read-only file system" in said, said[-500:]
    assert set(ADD_CHECKS) <= passed(attacker)
    assert_graded(sequential["s6-needs-memory"], 6, CHECKS)


# --- round 2: one submission cannot touch another, nor the runner that forks them (attacks.md #30-#38) -------

ECHOES = {"test_echo_message": "echo", "test_echo_class": "echo_class", "test_echo_file": "echo_file",
          "test_echo_print": "echo_print"}  # check -> the function it calls with the secret input
SECRET_CHECKS = "import pytest\n\nSECRET = \"{secret}\"\n" + "".join(f'''

@pytest.mark.points(1)
def {test}(submission):
    """{name} returns its argument."""
    assert submission.{name}(SECRET) == SECRET, "{name} should return its argument"
''' for test, name in ECHOES.items())
ECHO_CHECKS = (*ECHOES, "test_add_many")
# a probe (runs in the sandbox) adding many pairs at once, and a check that spot-checks it with direct calls
ADD_PROBE = '''def add_many(pairs):
    add = submission["add"]  # noqa: F821 - provided by the runner
    return [add(a, b) for a, b in pairs]
'''
PROBE_CHECKS = '''import random

import pytest


@pytest.mark.points(1)
def test_add_many(submission):
    """add is right on 1,000 pairs (added on the submission's side, spot-checked here)."""
    rng = random.Random(5)
    pairs = [(rng.randint(-999, 999), rng.randint(-999, 999)) for _ in range(1000)]
    sums = submission.probe("add_many", pairs)
    assert isinstance(sums, list) and len(sums) == len(pairs), "add_many should give one sum per pair"
    for index in random.Random().sample(range(len(pairs)), 20):  # chosen after the probe answered
        assert submission.add(*pairs[index]) == sums[index], "add's results differ between calls"
    assert sums == [a + b for a, b in pairs], "add should return the sum of its arguments"
'''
HONEST_ECHOES = "\n".join(f"def {name}(x):\n    return x\n" for name in ECHOES.values())


def zygotes() -> dict[int, dict[str, str]]:
    """The warm runners of this module's sandboxes, seen from the host: {pid: their limits, priority, CPUs, state}."""
    found = {}
    for pid, comm in sandbox_processes().items():
        cmdline = _read(f"/proc/{pid}/cmdline", binary=True)
        parent = _parents().get(pid)
        if comm.startswith("python") and b"agrunner.runner" in cmdline and parent \
                and _read(f"/proc/{parent}/comm").strip() == "bwrap":
            status = _read(f"/proc/{pid}/status")
            found[pid] = {"limits": _read(f"/proc/{pid}/limits"),
                          "nice": _read(f"/proc/{pid}/stat").rpartition(")")[2].split()[16],
                          "cpus": re.search(r"^Cpus_allowed_list:\s*(\S+)", status, re.M).group(1),
                          "state": re.search(r"^State:\s*(\S)", status, re.M).group(1)}
    return found


def strip_metadata(path: Path) -> Path:
    """What Colab, VS Code or a copy into a fresh notebook leave: every cell without its nbgrader metadata."""
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        cell["metadata"] = {}
    path.write_text(json.dumps(nb))
    return path


@pytest.fixture(scope="module")
def round2(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    """jobs=1, one worker and one sandbox for all, in this order: honest, a saboteur of the runner, honest, a
    reader of /proc and ptrace user, a function that tries to carry the hidden inputs out, honest; plus the
    honest reference without metadata and one whose answer cell was deleted."""
    base = tmp_path_factory.mktemp("round2")
    secret = f"{HOST_NEEDLE}-input-{uuid.uuid4().hex}"
    course = toy_course(base, time_limit=20, call_time_limit=4, memory="512MiB",
                        extra_hidden={"test_secret.py": SECRET_CHECKS.format(secret=secret),
                                      "probes.py": ADD_PROBE, "test_probe.py": PROBE_CHECKS})
    folder = base / "submissions"
    build(course, folder / "r0-honest.ipynb", after=[HONEST_ECHOES])
    build(course, folder / "r1-saboteur.ipynb", after=[HONEST_ECHOES, attack("saboteur")])
    build(course, folder / "r2-honest.ipynb", after=[HONEST_ECHOES])
    build(course, folder / "r3-proc-peek.ipynb", after=[HONEST_ECHOES, attack("proc_peek")])
    build(course, folder / "r4-exfiltrate.ipynb", after=[attack("exfiltrate")])
    build(course, folder / "r5-honest.ipynb", after=[HONEST_ECHOES])
    build(course, folder / "r8-probe-forger.ipynb", add=attack("probe_forger"), after=[HONEST_ECHOES])
    build(course, folder / "r9-decoder-bombs.ipynb", after=[HONEST_ECHOES, attack("channel_decoder_bombs")])
    deep_echo = "def echo(x):\n    for _ in range(100):\n        x = [x]\n    return x\n"
    build(course, folder / "ra-deep-value.ipynb", after=[HONEST_ECHOES, deep_echo])
    build(course, folder / "rz-honest.ipynb", after=[HONEST_ECHOES])
    strip_metadata(build(course, folder / "r6-no-metadata.ipynb", after=[HONEST_ECHOES]))
    deleted = build(course, folder / "r7-answer-deleted.ipynb", after=[HONEST_ECHOES])
    nb = json.loads(deleted.read_text())
    nb["cells"] = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") != "answer-scale"]
    deleted.write_text(json.dumps(nb))
    states: dict[str, dict] = {}

    def on_result(result: GradeResult) -> None:  # between submissions: what the runner looks like now
        states[result.student] = {"zygotes": zygotes(), "workers": _workers()}

    graded = grade_batch(course, folder, jobs=1, on_result=on_result)
    graded.extra.update(states=states, secret=secret)
    return graded


ROUND2_HONEST = ("r0-honest", "r2-honest", "r5-honest", "rz-honest")


def test_a_saboteur_of_the_runner_changes_nothing_for_the_next_students(round2: Graded):
    """attacks.md #30: the saboteur tried on every process it could name; the runner that forks the next
    submissions kept its limits, priority, CPUs and state, and every honest student after it gets full marks."""
    report = printed(round2["r1-saboteur"], "SABOTEUR")
    assert any(v == "ok" for attempts in report.values() if isinstance(attempts, dict) for v in attempts.values()), \
        "nothing the saboteur tried worked even on its own namespace: the test would pass vacuously"
    assert all(attempts["ptrace"] == "EPERM" for attempts in report.values() if isinstance(attempts, dict)), report
    for student in ROUND2_HONEST:
        assert_graded(round2[student], 11, [*CHECKS, *ECHO_CHECKS], max_score=11)
    before, after = (round2.extra["states"][student]["zygotes"] for student in ("r0-honest", "r1-saboteur"))
    assert len(before) == 1 and before == after, (before, after)
    assert next(iter(after.values()))["state"] in "RS", after


def test_kernel_state_and_the_runner_are_out_of_reach(round2: Graded):
    """attacks.md #31-#32: ptrace and process_vm_readv refused everywhere; the runner, bwrap's init and earlier
    submissions invisible; nothing of the grader's environment, command line or paths readable."""
    seen = printed(round2["r3-proc-peek"], "PROC-PEEK")
    assert seen["ptrace"] and set(seen["ptrace"].values()) == {"EPERM"}, seen["ptrace"]
    assert seen["vm_read"] and set(seen["vm_read"].values()) == {"EPERM"}, seen["vm_read"]
    readable = {key: text for key, text in seen["texts"].items() if text not in ("FileNotFoundError", "")
                and not text.endswith("Error")}
    assert readable, "it could read nothing at all: the test would pass vacuously"
    # (the Python runtime is bound read-only at its own path: its path is the one thing of the host it shows)
    secrets = [RUN_MARK, str(round2.course.root), "tests/hidden", "autograder.worker", "ag-runner-"]
    leaks = [(key, s) for key, text in readable.items() for s in secrets if s in text]
    assert leaks == [], leaks
    # what it sees of other processes: its namespace's init (a runner process) and nothing else
    processes = {key.split("/")[0] for key in readable if key.split("/")[0].isdigit()}
    assert all("agrunner.runner" in seen["texts"][f"{pid}/cmdline"] for pid in processes), processes
    assert_graded(round2["r3-proc-peek"], 11, [*CHECKS, *ECHO_CHECKS], max_score=11)


def test_a_replaced_probe_earns_nothing(round2: Graded):
    """attacks.md #34: the forged probe answered every pair right; the direct calls the check makes afterwards
    reach the real, unimplemented add, so the check fails."""
    result = round2["r8-probe-forger"]
    assert "PROBE-FORGER installed" in printed_text(result), "the forger never ran: the test would pass vacuously"
    assert not {"test_add_many", *ADD_CHECKS} & passed(result), result.tests
    assert message(result, "test_add_many").startswith("`add` is not implemented yet")
    assert result.score == 3 + 4  # scale and the echoes are honest


def test_decoder_bombs_end_their_call_and_the_trusted_worker_lives_on(round2: Graded):
    """attacks.md #33: a reply nested through extension payloads (a segfault for a C decoder), nested 100,000 deep,
    a million empty maps, 100,001 tiny arrays: each call ends with the limit in plain words, the same trusted
    worker grades the next student, who gets full marks."""
    result = round2["r9-decoder-bombs"]
    assert "BOMBS sizes" in printed_text(result), "the bombs were never made: the test would pass vacuously"
    assert result.status == Status.graded, result.reason
    messages = {t.name: t.message for t in result.tests}
    assert messages["test_add_floats"].startswith("`add` returned a value nested deeper than 64 levels"), messages
    assert messages["test_scale"].startswith("`scale` returned more than 1,000,000 values in one reply"), messages
    assert messages["test_echo_message"].startswith("`echo` returned more than 100,000 arrays and tensors"), messages
    assert re.search(r"nested deeper than 64 levels|cannot accept", messages["test_add_integers"]), messages
    states = round2.extra["states"]
    assert states["r9-decoder-bombs"]["workers"] == states["r8-probe-forger"]["workers"] != [], states
    # an honest runner refuses to send such a value at all; the trusted side words the limit itself
    deep = round2["ra-deep-value"]
    assert message(deep, "test_echo_message") == "`echo` returned a value nested deeper than 64 levels", deep.tests
    assert deep.score == 10
    assert_graded(round2["rz-honest"], 11, [*CHECKS, *ECHO_CHECKS], max_score=11)


def test_feedback_cannot_carry_hidden_inputs_out(round2: Graded):
    """attacks.md #36: functions that raise their arguments (as the message, as the name of a class made on the
    spot, as the file name of their code) or print them: the secret input is nowhere students can see it, only
    in the staff's gradebook."""
    course, secret = round2.course, round2.extra["secret"]
    result = round2["r4-exfiltrate"]
    assert secret in result.check_output, "the attack never printed the input: the test would pass vacuously"
    messages = {t.name: t.message for t in result.tests}
    assert re.fullmatch(r"`echo` raised ValueError \(in cell \d+, line \d+\)", messages["test_echo_message"])
    assert messages["test_echo_class"].startswith("`echo_class` raised an exception of a class of its own")
    # the frame named after the input is not one of its cells: the place shown is the last of its own lines
    assert re.fullmatch(r"`echo_file` raised RuntimeError \(in cell \d+, line \d+\)", messages["test_echo_file"])
    export_csv(list(round2.results.values()), course.root / "exports" / "grades.csv")
    export_gradescope(list(round2.results.values()), course.root / "exports" / "gradescope")
    shown = [p for folder in ("feedback", "autograded", "exports") for p in (course.root / folder).rglob("*")
             if p.is_file()]
    assert len(shown) > 10
    assert [p for p in shown if secret in p.read_text(errors="replace")] == []
    with Store(course.root / GRADEBOOK) as store:  # the course staff still see what it printed
        staff = {r.student: r for r in store.latest(ASSIGNMENT)}
    assert secret in staff["r4-exfiltrate"].check_output and secret not in staff["r4-exfiltrate"].output


def test_a_notebook_without_metadata_gets_its_marks_and_a_deleted_answer_is_reviewed(round2: Graded):
    """attacks.md #38: front-ends that strip cell metadata; an answer cell that cannot be found is never a
    silent zero."""
    assert_graded(round2["r6-no-metadata"], 11, [*CHECKS, *ECHO_CHECKS], max_score=11)
    reviewed = round2["r7-answer-deleted"]
    assert reviewed.status == Status.needs_review and any("answer-scale" in r for r in reviewed.review), reviewed
    assert reviewed.score == 8  # the top-to-bottom program's score, for the reviewer


@pytest.fixture(scope="module")
def saboteur_two_jobs(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    base = tmp_path_factory.mktemp("saboteur2")
    course = toy_course(base, time_limit=20, call_time_limit=4, memory="512MiB")
    folder = base / "submissions"
    build(course, folder / "a-saboteur.ipynb", after=[attack("saboteur")])
    for n in range(5):
        build(course, folder / f"b-honest-{n}.ipynb")
    return grade_batch(course, folder, jobs=2)


def test_a_saboteur_with_two_workers_harms_no_one(saboteur_two_jobs: Graded):
    assert "SABOTEUR" in printed_text(saboteur_two_jobs["a-saboteur"])
    for n in range(5):
        assert_graded(saboteur_two_jobs[f"b-honest-{n}"], 6, CHECKS)


# --- infrastructure faults are never grades (attacks.md #37) --------------------------------------------------

SLOW_HONEST = "import time\n\ntime.sleep(4)\n"


def _kill(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _workers() -> list[int]:
    return [pid for pid in _parents() if b"autograder.worker" in _read(f"/proc/{pid}/cmdline", binary=True)
            and _marked(pid)]


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    """jobs=1, honest submissions only; between them the host breaks the grader: it kills the runner, lowers the
    runner's hard limit on open files (a runner that cannot be repaired), and kills the trusted worker itself in
    the middle of a submission."""
    base = tmp_path_factory.mktemp("faults")
    course = toy_course(base, time_limit=30, call_time_limit=10, memory="512MiB")
    folder = base / "submissions"
    for name in ("f0", "f1", "f2", "f4"):
        build(course, folder / f"{name}.ipynb")
    build(course, folder / "f3-slow.ipynb", after=[SLOW_HONEST])
    broke: dict[str, Any] = {}

    def on_result(result: GradeResult) -> None:
        if result.student == "f0":
            broke["killed"] = list(zygotes())
            for pid in broke["killed"]:
                _kill(pid)
        elif result.student == "f1":
            broke["damaged"] = list(zygotes())
            for pid in broke["damaged"]:
                resource.prlimit(pid, resource.RLIMIT_NOFILE, (64, 64))
        elif result.student == "f2":
            broke["workers"] = _workers()
            threading.Timer(2.0, lambda: [_kill(pid) for pid in broke["workers"]]).start()

    graded = grade_batch(course, folder, jobs=1, on_result=on_result)
    graded.extra["broke"] = broke
    return graded


def test_a_broken_grader_is_repaired_and_every_submission_graded(faults: Graded):
    broke = faults.extra["broke"]
    assert len(broke["killed"]) == 1 and len(broke["damaged"]) == 1 and len(broke["workers"]) == 1, broke
    for student in ("f0", "f1", "f2", "f3-slow", "f4"):
        assert_graded(faults[student], 6, CHECKS)
        assert faults[student].reason == "", faults[student].reason


# --- concurrent submissions, and everything the sandbox can see ------------------------------------

TENSOR_CHECKS = '''import pytest
import torch


@pytest.mark.points(1)
def test_double_type(submission):
    """double_t returns a float64 tensor of the same length."""
    out = submission.double_t([1.0, 2.0, 3.0])
    assert type(out) is torch.Tensor, "double_t should return a torch.Tensor"
    assert out.dtype == torch.float64 and tuple(out.shape) == (3,), "double_t should keep the length, in float64"


@pytest.mark.points(1)
def test_double_values(submission):
    """double_t doubles every entry (compared the naive way, with torch's own functions)."""
    out = submission.double_t([1.0, 2.0, 3.0])
    assert isinstance(out, torch.Tensor), "double_t should return a tensor"
    expected = torch.tensor([2.0, 4.0, 6.0], dtype=torch.float64)
    assert torch.allclose(out, expected) and torch.equal(out, expected), "double_t should double every entry"
    assert bool((out == expected).all()), "double_t should double every entry"
'''
HONEST_DOUBLE = "import torch\n\n\ndef double_t(values):\n    return torch.tensor(values, dtype=torch.float64) * 2\n"
HIDDEN_TEXT = ["add should return the sum of its arguments", "test_add_integers", "scale should multiply every"]


@pytest.fixture(scope="module")
def isolation(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    """jobs=2: the writer and the searcher run at the same time in two sandboxes; the course's hidden checks
    and solutions carry a canary; a tensor check is added for the tensor-subclass attack."""
    base = tmp_path_factory.mktemp("isolation")
    canary = f"{HOST_NEEDLE}-{uuid.uuid4().hex}"
    course = toy_course(base, time_limit=120, call_time_limit=30, memory="1GiB", canary=canary,
                        extra_hidden={"test_tensor.py": TENSOR_CHECKS})
    assert canary in (course.root / "solutions" / ASSIGNMENT / "toy.ipynb").read_text()
    marker = f"{HOST_NEEDLE}-writer-{uuid.uuid4().hex}"
    folder = base / "submissions"
    writer = f"# {marker}\n" + attack("other_writer", marker=marker, seconds=20)  # the notebook carries it too
    build(course, folder / "a-writer.ipynb", after=[writer])
    needles = [HOST_NEEDLE, *HIDDEN_TEXT, "BEGIN SOLUTION"]
    build(course, folder / "b-searcher.ipynb", after=[attack("fs_search", needles=needles, watch=20)])
    build(course, folder / "c-tensor-forged.ipynb", after=[attack("tensor_subclass")])
    build(course, folder / "d-tensor-honest.ipynb", after=[HONEST_DOUBLE])
    graded = grade_batch(course, folder, jobs=2)
    graded.extra.update(canary=canary, marker=marker)
    return graded


def test_hidden_checks_solutions_and_secrets_are_unreachable(isolation: Graded):
    result = isolation["b-searcher"]
    assert result.status == Status.graded and set(CHECKS) <= passed(result), result.reason
    report = printed(result, "FS-SEARCH")
    # it really looked: most of the visible filesystem, /proc, argv and environment
    assert report["needles"] == 5
    assert report["files_read"] > 10_000 and report["files_seen"] >= report["files_read"], report
    assert report["proc_texts"] >= 6 and len(report["scans"]) > 10, report
    # The positive control: the generic marker "BEGIN SOLUTION" is in installed packages' public files (nbgrader's
    # sources and docs, this project's README in its dist-info METADATA), and the search found it there. The
    # course's own secrets (its canaries, the hidden checks' text) must be found nowhere.
    found = report["file_hits"]
    assert any(needle == "BEGIN SOLUTION" and "/site-packages/nbgrader/" in path for path, needle in found), \
        "the search cannot find anything: the test would pass vacuously"
    leaks = [(path, needle) for path, needle in found
             if needle != "BEGIN SOLUTION" or "/site-packages/" not in path]
    assert leaks == [], leaks
    assert report["proc_hits"] == [] and report["writable_hits"] == []


def test_a_concurrent_submission_is_invisible(isolation: Graded):
    writer, searcher = isolation["a-writer"], isolation["b-searcher"]
    assert "WRITER left its traces; shm segment" in printed_text(writer) and "segment -1" not in printed_text(writer)
    started = float(re.search(r"WRITER started ([\d.]+)", printed_text(writer)).group(1))
    finished = float(re.search(r"WRITER finished ([\d.]+)", printed_text(writer)).group(1))
    report = printed(searcher, "FS-SEARCH")
    assert any(started < scan < finished for scan in report["scans"]), "the two did not run at the same time"
    assert report["started"] < finished and started < report["finished"]
    # the writer's files, shm segment, socket, process and notebook (which carries the marker) were not found
    assert not any(isolation.extra["marker"] in json.dumps(hit) for hit in
                   report["file_hits"] + report["proc_hits"] + report["writable_hits"])
    assert set(CHECKS) <= passed(writer) and set(CHECKS) <= passed(searcher)


def test_a_tensor_subclass_arrives_as_a_plain_tensor_with_its_real_data(isolation: Graded):
    forged, honest = isolation["c-tensor-forged"], isolation["d-tensor-honest"]
    assert honest.max_score == 8 and honest.score == 8, honest.tests
    # exact torch.Tensor of float64 on the trusted side, so the overridden torch.allclose / equal do not apply
    assert passed(forged) == {*CHECKS, "test_double_type"}, forged.tests
    assert message(forged, "test_double_values") == "double_t should double every entry"
    assert forged.score == 7


# --- nbgrader test cells: checks run by trusted code (tests/fixtures/nbgrader_course, assignment hw-2) ---------
# hw-2's test cells: mean_values (1.5, math.isclose), mean_empty (0.75, try/except ValueError), shares_values
# (0.25, isinstance and ==), shares_independent (0.5, deletes and restores `mean`). In nbgrader each of these
# attacks scores, because the test cell runs in the student's own kernel; here the cell runs on the trusted side.

_HONEST_MEAN = "def mean(xs):\n    if not xs:\n        raise ValueError('empty')\n    return sum(xs) / len(xs)"
_HONEST_SHARES = "def shares(xs):\n    return [x / sum(xs) for x in xs]"
_ALWAYS_EQUAL = """class AlwaysEqual:
    def __eq__(self, other):
        return True
    def __bool__(self):
        return True
    def __float__(self):
        return 2.0
    __ne__ = lambda self, other: False
    __sub__ = __rsub__ = __abs__ = lambda self, *other: 0.0
"""
_FRAME_INSPECTION = r"""import inspect, re, sys

def mean(xs):
    found = []
    frame = sys._getframe(1)
    while frame is not None:
        found += [v for v in frame.f_locals.values() if type(v) is float]
        try:
            text = inspect.getsource(frame)
        except Exception:
            text = ''
        found += [float(x) for x in re.findall(r'isclose\(mean\(.*?\), ([0-9.]+)\)', text)]
        frame = frame.f_back
    return found[-1] if found else -1.0
"""
NBGRADER_ATTACKS: dict[str, dict[str, str]] = {
    "honest": {"mean": _HONEST_MEAN, "shares": _HONEST_SHARES},
    "always-equal": {"mean": _ALWAYS_EQUAL + "def mean(xs):\n    return AlwaysEqual()",
                     "shares": _ALWAYS_EQUAL + "def shares(xs):\n    return AlwaysEqual()"},
    "equal-list": {"mean": _HONEST_MEAN,
                   "shares": "class L(list):\n    def __eq__(self, other):\n        return True\n\n"
                             "def shares(xs):\n    return L()"},
    "forged-error": {"mean": "class ValueError(Exception):\n    pass\n\n" + _HONEST_MEAN, "shares": _HONEST_SHARES},
    "exit-error": {"mean": "def mean(xs):\n    if not xs:\n        raise SystemExit(0)\n    return sum(xs) / len(xs)",
                   "shares": "def shares(xs):\n    raise KeyboardInterrupt"},
    "frame-inspection": {"mean": _FRAME_INSPECTION, "shares": _HONEST_SHARES},
    "patched-builtins": {
        "mean": "import builtins, types\nmath = types.SimpleNamespace(isclose=lambda *a, **k: True)\n"
                "isinstance = lambda *a: True\nbuiltins.isinstance = isinstance\n"
                "builtins.AssertionError = type('Quiet', (Exception,), {})\n\ndef mean(xs):\n    return 0",
        "shares": "def shares(xs):\n    return tuple(x / sum(xs) for x in xs)"},
}


@pytest.fixture(scope="module")
def nbgrader_attacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GradeResult]:
    import nbformat

    from autograder.config import load_course
    from autograder.nbgrader_import import import_nbgrader
    from autograder.notebooks import grade_id, read_notebook
    from autograder.release import release

    from .conftest import FIXTURES

    root = tmp_path_factory.mktemp("nbgrader-attacks") / "course"
    shutil.copytree(FIXTURES / "nbgrader_course", root)
    import_nbgrader(root)
    course = load_course(root / "course.yml")
    release(course, ["hw-2"])
    for student, answers in NBGRADER_ATTACKS.items():
        nb = read_notebook(root / "release" / "hw-2" / "stats.ipynb")
        for cell in nb.cells:
            cell.source = answers.get(grade_id(cell) or "", cell.source)
        (root / "submitted" / student / "hw-2").mkdir(parents=True)
        nbformat.write(nb, root / "submitted" / student / "hw-2" / "stats.ipynb")
    batch = grade(course, course.assignment("hw-2"))
    return {r.student: r for r in batch.results}


def _cells(result: GradeResult) -> dict[str, float]:
    return {t.name: t.score for t in result.tests if not t.pending}


def test_nbgrader_honest_submission_passes_every_test_cell(nbgrader_attacks: dict[str, GradeResult]):
    assert _cells(nbgrader_attacks["honest"]) == {"mean_values": 1.5, "mean_empty": 0.75, "shares_values": 0.25,
                                                  "shares_independent": 0.5}


@pytest.mark.parametrize(("student", "zero"), [
    ("always-equal", ["mean_values", "mean_empty", "shares_values", "shares_independent"]),
    ("equal-list", ["shares_values", "shares_independent"]),
    ("forged-error", ["mean_empty"]),
    ("exit-error", ["mean_empty", "shares_values", "shares_independent"]),
    ("frame-inspection", ["mean_values", "mean_empty"]),
    ("patched-builtins", ["mean_values", "mean_empty", "shares_values", "shares_independent"]),
])
def test_nbgrader_test_cells_give_attacks_nothing(nbgrader_attacks: dict[str, GradeResult], student: str,
                                                  zero: list[str]):
    """Always-equal objects, exceptions of forged types (or of types that would stop the grader), frame
    inspection and patched builtins earn no test cell's points; honest parts of the same notebook still do."""
    result = nbgrader_attacks[student]
    cells = _cells(result)
    assert {name: cells[name] for name in zero} == dict.fromkeys(zero, 0.0), cells
    honest = _cells(nbgrader_attacks["honest"])
    assert all(cells[name] == honest[name] for name in cells if name not in zero), cells
    assert result.status in (Status.graded, Status.needs_review) and not result.reason.startswith("grader error")
