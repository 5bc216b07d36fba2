"""The Docker backend (autograder/sandboxes/docker.py).

Two parts:
- command lines, GPU discovery and leasing, and the one-sentence errors without a daemon: no daemon needed,
  always run;
- end to end against a real Docker daemon and the runner image, nothing mocked: run only when
  ``AUTOGRADER_DOCKER_TESTS`` is set (`make docker-test` installs Docker, starts the daemon, builds the images
  and sets it). They grade the same notebooks through both backends and compare: week-1 reference and blank, and
  the attack corpus's fork bomb, memory bomb, disk fill, network access, hidden-test search, detached child and
  huge output; they check the baseline flags with `docker inspect`, and that nothing is left after a batch, nor
  after the grader is killed and run again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import nbformat
import pytest

from autograder.config import Course, load_course
from autograder.engine import prepare
from autograder.errors import UserError
from autograder.grading import grade
from autograder.pools.local import Pool
from autograder.results import GradeResult, Status
from autograder.sandboxes import docker as db
from autograder.sandboxes.common import BOOTSTRAP, Limits, SandboxError

from .conftest import AUTOGRADER, REPO, week1_course
from .corpus import (
    ASSIGNMENT,
    CHECKS,
    DISK_PLACES,
    attack,
    build,
    host_listeners,
    passed,
    printed,
    printed_text,
    processes_named,
    toy_course,
)

E2E = bool(os.environ.get("AUTOGRADER_DOCKER_TESTS"))
_skip_without_daemon = pytest.mark.skipif(
    not E2E, reason="set AUTOGRADER_DOCKER_TESTS=1 (make docker-test) to run the Docker end-to-end tests")


def needs_docker(test):
    """End to end against the daemon: marked `docker` (`make unit` deselects them, `make docker-test` runs them,
    both in `make test`), and skipped with a reason when someone runs them by hand without a daemon."""
    return pytest.mark.docker(_skip_without_daemon(test))


GPU_UUID = "GPU-6f1c2a3b-4d5e-6f70-8192-a3b4c5d6e7f8"
MIG_UUID = "MIG-0c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f"


def _command(gpu: str | None = None, public: Path | None = Path("/course/release/week00-toy")) -> list[str]:
    limits = Limits(memory=512 * 1024**2, pids=128, scratch=64 * 1024**2, nofile=200)
    return db.run_command(docker="docker", image="autograder-runner:cpu-0123456789ab", name="ag-1-x",
                          user="10001:10001", owner="4242-77", socket_dir=Path("/tmp/ag-docker-x/ag-1-x"),
                          public_dir=public, limits=limits, memory=512 * 1024**2 + 400 * 1024**2, gpu=gpu)


def _pairs(cmd: list[str]) -> list[tuple[str, str]]:
    return list(zip(cmd, cmd[1:], strict=False))


# --- command lines (no daemon) ---------------------------------------------------------------------

def test_run_command_has_the_baseline_flags():
    cmd = _command()
    image_at = cmd.index("autograder-runner:cpu-0123456789ab")
    flags, argv = cmd[:image_at], cmd[image_at + 1:]
    pairs = _pairs(flags)
    for pair in [("--network", "none"), ("--user", "10001:10001"), ("--cap-drop", "ALL"),
                 ("--security-opt", "no-new-privileges"), ("--memory", str(912 * 1024**2)),
                 ("--memory-swap", str(912 * 1024**2)), ("--pids-limit", "128"), ("--ulimit", "core=0"),
                 ("--ulimit", "nofile=200:200"), ("--ipc", "private"), ("--label", "autograder.grader=4242-77"),
                 ("--log-driver", "none"), ("--shm-size", str(64 * 1024**2))]:
        assert pair in pairs, pair
    for flag in ("--read-only", "--init", "--rm", "--detach"):
        assert flag in flags
    tmpfs = [b for a, b in pairs if a == "--tmpfs"]
    assert tmpfs == [f"/tmp:rw,exec,nosuid,nodev,size={64 * 1024**2},mode=1777",
                     f"/work/scratch:rw,exec,nosuid,nodev,size={64 * 1024**2},uid=10001,gid=10001,mode=0755"]
    mounts = [b for a, b in pairs if a == "--mount"]
    assert mounts == ["type=bind,source=/tmp/ag-docker-x/ag-1-x,target=/run/autograder,readonly",
                      "type=bind,source=/course/release/week00-toy,target=/work/public,readonly"]
    env = dict(b.split("=", 1) for a, b in pairs if a == "--env")
    assert set(env) == {"PATH", "HOME", "LANG", "MPLBACKEND", "MPLCONFIGDIR", "PYTHONDONTWRITEBYTECODE",
                        "PYTHONHASHSEED", "OMP_NUM_THREADS", "MKL_NUM_THREADS"}
    assert "--gpus" not in flags and "--privileged" not in flags and "docker.sock" not in " ".join(cmd)
    # the settings travel in a file of the socket folder, not on the command line
    assert argv == ["/opt/venv/bin/python", "-I", "-c", BOOTSTRAP, "/run/autograder/settings.json"]
    # nothing of the hidden checks, the solutions or the source crosses on the command line
    assert not re.search(r"hidden|solutions|source/|tests/", " ".join(cmd))


def test_run_command_without_public_files_mounts_only_the_socket_folder():
    mounts = [b for a, b in _pairs(_command(public=None)) if a == "--mount"]
    assert mounts == ["type=bind,source=/tmp/ag-docker-x/ag-1-x,target=/run/autograder,readonly"]


@pytest.mark.parametrize("device", [GPU_UUID, MIG_UUID])
def test_a_gpu_job_gets_exactly_its_device(device: str):
    cmd = _command(gpu=device)
    assert ("--gpus", f'"device={device}"') in _pairs(cmd)
    assert cmd.count("--gpus") == 1


NVIDIA_SMI_L = f"""GPU 0: NVIDIA H100 80GB HBM3 (UUID: {GPU_UUID})
GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-11111111-2222-3333-4444-555555555555)
  MIG 3g.20gb     Device  0: (UUID: {MIG_UUID})
  MIG 2g.10gb     Device  1: (UUID: MIG-99999999-8888-7777-6666-555555555555)
GPU 2: NVIDIA L4 (UUID: GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee)
"""


def test_gpu_discovery_counts_mig_slices_as_devices():
    assert db.parse_gpu_list(NVIDIA_SMI_L) == [GPU_UUID, MIG_UUID, "MIG-99999999-8888-7777-6666-555555555555",
                                               "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"]
    assert db.parse_gpu_list("") == []
    assert db.parse_gpu_list("No devices were found\n") == []


def test_gpu_use_decides_who_gets_a_gpu():
    found = [GPU_UUID, MIG_UUID]
    assert db.gpus_for("none", 4, found=found) == []
    assert db.gpus_for("optional", 4, found=found) == found
    assert db.gpus_for("required", 4, found=found) == found
    assert db.gpus_for("optional", 4, found=[]) == []  # runs on the CPU
    with pytest.raises(UserError, match=r"week02-rnn requires a GPU \(gpu: required\) but this machine has none"):
        db.gpus_for("required", 2, "week02-rnn", found=[])
    assert db.jobs_for(4, found) == 2 and db.jobs_for(1, found) == 1 and db.jobs_for(4, []) == 4


def test_more_jobs_than_gpus_wait_for_a_free_one(tmp_path: Path):
    first = db.GpuLease.acquire([GPU_UUID], tmp_path)
    with pytest.raises(SandboxError, match="no GPU became free"):
        db.GpuLease.acquire([GPU_UUID], tmp_path, timeout=0.3, poll=0.05)
    got: list[str] = []
    waiter = threading.Thread(target=lambda: got.append(db.GpuLease.acquire([GPU_UUID], tmp_path, poll=0.05).device))
    waiter.start()
    time.sleep(0.3)
    assert got == [], "the second job must wait while the GPU is held"
    first.release()
    waiter.join(5)
    assert got == [GPU_UUID]
    other = tmp_path / "two-devices"
    a, b = db.GpuLease.acquire([GPU_UUID, MIG_UUID], other), db.GpuLease.acquire([GPU_UUID, MIG_UUID], other)
    assert (a.device, b.device) == (GPU_UUID, MIG_UUID), "each job gets its own device"
    a.release()
    b.release()


def test_image_hash_covers_dockerfile_lock_and_runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    cpu, gpu = db.image_hash(False), db.image_hash(True)
    assert re.fullmatch(r"[0-9a-f]{12}", cpu) and cpu != gpu
    assert db.image_tags(False) == [f"autograder-runner:cpu-{cpu}", "autograder-runner:cpu"]
    fake = tmp_path / "autograder"
    shutil.copytree(db.PACKAGE, fake, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(db, "PACKAGE", fake)
    assert db.image_hash(False) == cpu
    (fake / "runner.py").write_text((fake / "runner.py").read_text() + "\n# changed\n")
    assert db.image_hash(False) != cpu


def test_build_command_tags_with_the_hash_and_passes_the_base():
    cmd = db.build_command("docker", Path("/ctx"), False, "autograder-base:bookworm", ["r:cpu-x", "r:cpu"])
    pairs = _pairs(cmd)
    assert ("--build-arg", "BASE_IMAGE=autograder-base:bookworm") in pairs
    assert ("--build-arg", f"AG_HASH={db.image_hash(False)}") in pairs and ("--build-arg", "AG_KIND=cpu") in pairs
    assert ("--tag", "r:cpu-x") in pairs and ("--tag", "r:cpu") in pairs and cmd[-1] == "/ctx"


def test_the_images_hold_only_the_runtime_and_the_runner():
    for name in ("Dockerfile", "Dockerfile.gpu"):
        text = (REPO / "docker" / name).read_text()
        assert "ARG BASE_IMAGE" in text and "USER 10001:10001" in text
        copied = re.findall(r"^COPY (?:--from=\S+ )?(\S+)", text, re.M)
        assert set(copied) == {"requirements.lock", "wheelhouse/", "/opt/venv", "agrunner/", "fonts/"}, copied


def _no_daemon_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-such-docker.sock", "COLUMNS": "250"}


def test_no_daemon_is_one_clear_sentence(toy_course_copy: Course, tmp_path: Path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    shutil.copy(toy_course_copy.root / "solutions" / ASSIGNMENT / "toy.ipynb", folder / "ana.ipynb")
    result = subprocess.run([*AUTOGRADER, "grade", ASSIGNMENT, "--submissions", str(folder), "--backend", "docker"],
                            cwd=toy_course_copy.root, env=_no_daemon_env(tmp_path), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "Docker daemon is not running" in lines[0] or "Docker is not installed" in lines[0]


def test_no_docker_command_is_one_clear_sentence(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(UserError, match=r"^Docker is not installed: install it"):
        db.check_daemon()


def test_unknown_backend_is_one_clear_sentence(toy_course_copy: Course):
    result = subprocess.run([*AUTOGRADER, "grade", ASSIGNMENT, "--backend", "podman"], cwd=toy_course_copy.root,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.strip() == \
        "error: Invalid value for '--backend': 'podman' is not one of 'local', 'docker'; see --help"


# --- end to end: helpers ---------------------------------------------------------------------------

@pytest.fixture
def toy_course_copy(tmp_path: Path) -> Course:
    return toy_course(tmp_path)


def docker_ps(*filters: str) -> list[str]:
    args = [a for f in filters for a in ("--filter", f)]
    out = subprocess.run(["docker", "ps", "--all", "--quiet", *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def our_containers() -> list[str]:
    return docker_ps(f"label={db.OWNER_LABEL}")


def runner_processes() -> list[int]:
    """Host processes of runner containers (their interpreter is the image's venv, which the host lacks)."""
    found = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(b"/opt/venv/bin/python\0"):
            found.append(int(pid))
    return found


def wait_until_clean(timeout: float = 30.0) -> tuple[list[str], list[int], list[str]]:
    deadline = time.monotonic() + timeout
    while True:
        left = (our_containers(), runner_processes(), [str(p) for p in Path("/tmp").glob("ag-docker-*")])
        if not any(left) or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def volumes() -> set[str]:
    return set(subprocess.run(["docker", "volume", "ls", "-q"], capture_output=True, text=True).stdout.split())


@pytest.fixture(scope="module")
def image() -> str:
    if not E2E:
        pytest.skip("AUTOGRADER_DOCKER_TESTS is not set")
    db.check_daemon()
    return db.check_image("autograder-runner:cpu").name


# --- end to end: week 1, through both backends ----------------------------------------------------

@needs_docker
def test_week1_reference_and_blank_score_the_same_through_docker(image: str):
    course = load_course(REPO / "course.yml")
    assignment = course.assignment("week01-markov")
    items = [("reference", prepare(course, assignment, [course.solutions_dir(assignment) / "markov.ipynb"])),
             ("blank", prepare(course, assignment, [course.release_dir(assignment) / "markov.ipynb"]))]
    before = volumes()
    scores = {}
    for backend in ("docker", "local"):
        outcomes = dict(Pool(course, assignment, jobs=2, backend=backend).map(items))
        scores[backend] = {k: (o.run.score, o.run.max_score, o.error, o.reason) for k, o in outcomes.items()}
    assert scores["docker"]["reference"][0] == scores["docker"]["reference"][1] > 0, scores
    assert scores["docker"]["blank"][0] == 0 and scores["docker"]["blank"][2] is None, scores
    assert scores["docker"] == scores["local"]
    assert wait_until_clean() == ([], [], [])
    assert volumes() == before


@needs_docker
def test_korean_labels_render_in_the_image_as_in_the_local_sandbox(image: str, tmp_path: Path):
    """Issue 15: the bilingual fixture's Korean reference draws a figure with Hangul labels (hidden check
    test_korean_labels_render: no "Glyph ... missing" warning, NanumGothic used) in the container, as locally."""
    from autograder.release import release

    shutil.copytree(REPO / "tests" / "fixtures" / "bilingual", tmp_path / "course")
    course = load_course(tmp_path / "course" / "course.yml")
    release(course)
    assignment = course.assignment("week00-hello")
    items = [("reference:ko", prepare(course, assignment, [course.solutions_dir(assignment, "ko") / "hello.ipynb"]))]
    for backend in ("docker", "local"):
        (_, outcome), = Pool(course, assignment, jobs=1, backend=backend).map(items)
        fonts = [t for t in outcome.run.tests if t.name == "test_korean_labels_render"]
        assert outcome.error is None and fonts and fonts[0].passed, (backend, outcome.error, outcome.run.tests)
        assert outcome.run.score == outcome.run.max_score == 3, (backend, outcome.run.tests)
    assert wait_until_clean() == ([], [], [])


@needs_docker
def test_notebooks_as_students_save_them_score_the_same_through_docker(image: str, tmp_path: Path):
    """Issue 20's corpus through the container: week 1's reference after Colab, VS Code, a fresh notebook, %%time on
    every answer, continuation lines, magics and shell escapes, merged answers and a deleted answer cell: the same
    status, score and review in both backends (IPython runs the cells in either)."""
    from .test_variants import VARIANTS, _course

    course = _course(tmp_path / "course", "week01-markov")
    ref = nbformat.read(REPO / "solutions" / "week01-markov" / "markov.ipynb", as_version=4)
    release = nbformat.read(course.release_dir(course.assignment("week01-markov")) / "markov.ipynb", as_version=4)
    folder = tmp_path / "incoming"
    folder.mkdir()
    chosen = ["colab", "vscode", "fresh-copy", "cell-magic", "continuation-lines", "shell-and-magics", "merged",
              "answer-deleted"]
    for variant in chosen:
        made = VARIANTS[variant](ref, release, "markov-bigrams")
        path = folder / f"{variant}.ipynb"
        path.write_bytes(made) if isinstance(made, bytes) else nbformat.write(made, path)
    seen = {}
    for backend in ("docker", "local"):
        batch = grade(course, course.assignment("week01-markov"), submissions=folder, jobs=2, regrade=True,
                      backend=backend)
        seen[backend] = {r.student: (r.status, r.score, r.max_score, tuple(r.review)) for r in batch.results}
    assert seen["docker"] == seen["local"] and set(seen["docker"]) == set(chosen), seen
    full = [v for v in chosen if v != "answer-deleted"]
    assert all(seen["docker"][v][0] == Status.graded and seen["docker"][v][1] == seen["docker"][v][2] for v in full)
    assert seen["docker"]["answer-deleted"][0] == Status.needs_review
    assert wait_until_clean() == ([], [], [])


@needs_docker
def test_the_demo_samples_score_the_same_through_docker(image: str, tmp_path: Path):
    """`autograder grade week01-markov --backend docker` on examples/submissions (perfect, partial, blank,
    corrupt, empty and the malicious ones) gives every student the same status, score and passing checks as the
    local sandbox."""
    course = week1_course(tmp_path / "course")
    samples = REPO / "examples" / "submissions"
    results = {}
    for backend in ("docker", "local"):
        batch = grade(course, course.assignment("week01-markov"), submissions=samples, jobs=2, regrade=True,
                      backend=backend)
        results[backend] = {r.student: _summary(r) for r in batch.results}
    assert len(results["docker"]) == len(list(samples.glob("*.ipynb"))) >= 10
    assert results["docker"]["perfect"][1] == results["docker"]["perfect"][2] == 29
    assert results["docker"]["blank"][1] == 0 and results["docker"]["corrupt"][0] == Status.ungradable
    assert results["docker"] == results["local"]
    assert wait_until_clean() == ([], [], [])


# --- end to end: the attack corpus, through both backends ----------------------------------------

FILL_PLACES = {**DISK_PLACES, "root": "/"}  # and the read-only root
DETACHED = f"agdet{uuid.uuid4().hex[:8]}"
CANARY = f"AGCANARY-{uuid.uuid4().hex}"


def attack_students(port: int, abstract: str) -> dict[str, dict[str, Any]]:
    return {
        "honest": {},
        "blank": {"blank": True},
        "fork-bomb": {"add": attack("fork_bomb")},
        "memory-bomb": {"scale": attack("memory_bomb")},
        **{f"disk-fill-{name}": {"scale": attack("disk_fill", places=[place])} for name, place in FILL_PLACES.items()},
        "network": {"after": (attack("network", port=port, abstract=abstract),)},
        "huge-output": {"after": (attack("huge_output"),)},
        "fs-search": {"after": (attack("fs_search", needles=[CANARY, "BEGIN SOLUTION"]),)},
        "detached-child": {"after": (attack("detached_child", name=DETACHED),)},
        # attacks.md #30-#36 (round 2)
        "saboteur": {"after": (attack("saboteur"),)},
        "proc-peek": {"after": (attack("proc_peek"),)},
        "kernel-state": {"after": (attack("other_writer", marker=f"{CANARY}-writer"),)},
        "decoder-bombs": {"after": (attack("channel_decoder_bombs"),)},
        "raises-its-inputs": {"add": RAISES_ITS_INPUTS},
    }


RAISES_ITS_INPUTS = ("def add(a, b):\n    if (a, b) == (1, 2):\n        return 3\n"
                     "    raise ValueError(repr((a, b)) * 3)\n")


@pytest.fixture(scope="module")
def both(image: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, GradeResult]]:
    base = tmp_path_factory.mktemp("attacks")
    # 1 GiB, above the 512 MiB tmpfs caps: a disk fill meets the full tmpfs (not the memory limit, which tmpfs
    # pages count towards) in both backends, and the file search's page cache fits
    course = toy_course(base, time_limit=90, call_time_limit=4, memory="1GiB")  # the file search takes a while
    hidden = course.root / "tests" / "hidden" / ASSIGNMENT / "test_toy.py"
    hidden.write_text(hidden.read_text() + f"\n# {CANARY}\n")   # the search must not find it
    folder = base / "submissions"
    results: dict[str, dict[str, GradeResult]] = {}
    detached_after: dict[str, list[int]] = {}
    with host_listeners() as listening:
        for student, parts in attack_students(listening.port, listening.abstract).items():
            build(course, folder / f"{student}.ipynb", **parts)
        for backend in ("docker", "local"):
            def on_result(result: GradeResult, backend: str = backend) -> None:
                if result.student == "detached-child":
                    detached_after[backend] = processes_named(DETACHED)
            batch = grade(course, course.assignment(ASSIGNMENT), submissions=folder, jobs=2, regrade=True,
                          backend=backend, on_result=on_result)
            results[backend] = {r.student: r for r in batch.results}
            if backend == "docker":
                results["docker-leftovers"] = wait_until_clean()  # type: ignore[assignment]
    results["extra"] = {"accepted": listening.accepted, "detached_after": detached_after,  # type: ignore[dict-item]
                        "host_fill": [str(p) for p in Path("/tmp").glob("fill-*.bin")]}
    return results


def _summary(result: GradeResult) -> tuple:
    return (result.status, result.score, result.max_score, tuple(sorted(passed(result))))


def _disk_outcome(result: GradeResult) -> tuple:
    """As tests/test_attacks.py judges a disk fill: graded, the honest checks pass, and test_scale either passes
    (every write failed cleanly on a full tmpfs) or fails on a limit said in plain words (tmpfs pages count
    towards the memory limit, so which limit comes first depends on what the sandbox's memory already holds)."""
    scale = next(t for t in result.tests if t.name == "test_scale")
    stopped = bool(re.search(r"memory|disk|space|file size", scale.message))
    return (result.status, {"test_add_integers", "test_add_floats"} <= passed(result), scale.passed or stopped)


def _detached_outcome(result: GradeResult) -> tuple:
    """As tests/test_attacks.py judges the detached child: graded, the wrong `add` earns nothing and the forged
    full marks count for nothing. Whether the honest test_scale keeps its points depends on when the first forged
    reply lands (the grader cuts the run at the first message it cannot accept), so its points are not compared."""
    return (result.status, not {"test_add_integers", "test_add_floats"} & passed(result), result.score <= 3)


@needs_docker
@pytest.mark.parametrize("student", ["honest", "blank", "fork-bomb", "memory-bomb", *[f"disk-fill-{p}" for p in
                                     FILL_PLACES], "network", "huge-output", "fs-search", "detached-child",
                                     "saboteur", "proc-peek", "kernel-state", "decoder-bombs", "raises-its-inputs"])
def test_an_attack_has_the_same_outcome_through_docker(both, student: str):
    docker, local = both["docker"][student], both["local"][student]
    assert docker.backend == "docker" and local.backend == "local"
    if student.startswith("disk-fill"):
        assert _disk_outcome(docker) == _disk_outcome(local) == (Status.graded, True, True), (docker.tests, local.tests)
        return
    if student == "fs-search":  # the same outcome: nothing secret found. The local sandbox shows the host's /usr
        for result in (docker, local):  # (far more files to list and read), so there it may meet a limit first
            if "FS-SEARCH " in printed_text(result):
                report = printed(result, "FS-SEARCH")
                assert [h for h in report["file_hits"] if h[1] != "BEGIN SOLUTION"] == [] == report["proc_hits"]
            else:
                assert re.search(r"ran out of memory|took longer", result.reason), result.reason
        assert "FS-SEARCH " in printed_text(docker) and docker.score == 6
        return
    if student == "detached-child":
        assert _detached_outcome(docker) == _detached_outcome(local) == (Status.graded, True, True), \
            (docker.reason, local.reason, docker.tests, local.tests)
        return
    assert _summary(docker) == _summary(local), (docker.reason, local.reason, docker.tests, local.tests)
    # 256 forked copies of a warm runtime, or memory touched up to the limit (near it the kernel first reclaims file
    # cache, which can be slow): the time or the memory limit ends the bomb, whichever the host reaches first
    bombed = {"fork-bomb": r"`add` in test_add_\w+", "memory-bomb": r"`scale` in test_scale"}.get(student)
    if bombed:
        for result in (docker, local):
            assert re.fullmatch(rf"((took longer than 4 s|ran out of memory \(limit 1 GiB\)) while calling {bombed}"
                                r"(; )?)+", result.reason), result.reason
    else:
        assert docker.reason == local.reason
        assert [(t.name, t.message) for t in docker.tests] == [(t.name, t.message) for t in local.tests]


@needs_docker
def test_round_two_attacks_hold_in_a_container(both):
    """attacks.md #30-#36 through Docker: the submission's own filter refuses ptrace, process_vm_readv and the
    keyrings there too; the trusted side words the decoder bombs' limits; an exception's message never shows."""
    results = both["docker"]
    sabotage = printed(results["saboteur"], "SABOTEUR")
    assert {a["ptrace"] for a in sabotage.values() if isinstance(a, dict)} == {"EPERM"}, sabotage
    peek = printed(results["proc-peek"], "PROC-PEEK")
    assert set(peek["ptrace"].values()) <= {"EPERM"} and set(peek["vm_read"].values()) <= {"EPERM"}, peek
    assert not [key for key, text in peek["texts"].items() if CANARY in text or "tests/hidden" in text]
    assert "WRITER keyring EPERM" in printed_text(results["kernel-state"])
    bombs = {t.name: t.message for t in results["decoder-bombs"].tests}
    assert bombs["test_add_floats"].startswith("`add` returned a value nested deeper than 64 levels"), bombs
    assert bombs["test_scale"].startswith("`scale` returned more than 1,000,000 values"), bombs
    raised = {t.message for t in results["raises-its-inputs"].tests if t.name.startswith("test_add")}
    assert raised and all(re.fullmatch(r"`add` raised ValueError \(in cell answer-add, line 4\)", m) for m in raised)
    for student in ("saboteur", "proc-peek", "kernel-state"):
        assert _summary(results[student]) == (Status.graded, 6, 6, CHECKS_SORTED), results[student].tests


@needs_docker
def test_attack_outcomes_through_docker(both):
    results = both["docker"]
    assert _summary(results["honest"]) == (Status.graded, 6, 6, CHECKS_SORTED)
    assert results["blank"].score == 0 and results["blank"].status == Status.graded
    fork = results["fork-bomb"]
    assert fork.score == 3 and fork.status == Status.graded and "while calling `add`" in fork.reason
    memory = results["memory-bomb"]
    assert memory.score == 3
    assert next(t.message for t in memory.tests if t.name == "test_scale") in \
        {"ran out of memory (limit 1 GiB) while calling `scale` in test_scale",
         "took longer than 4 s while calling `scale` in test_scale"}  # which limit first: the host's timing
    for place in FILL_PLACES:
        result = results[f"disk-fill-{place}"]
        assert {"test_add_integers", "test_add_floats"} <= passed(result) and result.status == Status.graded
        said = printed_text(result)
        assert re.search(r"^DISK-FILL \S+ (?:full after )?\d+", said, re.M), said[-500:]
    assert both["extra"]["host_fill"] == []
    tries = printed(results["network"], "NETWORK")
    assert tries["loopback"].startswith("ConnectionRefusedError") and tries["abstract"].startswith("Connection")
    assert all("unreachable" in tries[n] for n in ("outside", "outside-udp")), tries
    assert re.search("unreachable|Cannot assign requested address", tries["outside-ipv6"]), tries  # no IPv6 at all
    assert tries["dns"].startswith("gaierror") and tries["interfaces"] == ["lo"] and tries["routes"] == 0
    assert both["extra"]["accepted"] == []
    huge = results["huge-output"]
    assert huge.score == 6 and len(huge.output.encode()) < 300 * 1024
    assert int(re.search(r"\[… (\d+) more bytes of output were discarded\]", huge.output).group(1)) > 50 << 20
    report = printed(results["fs-search"], "FS-SEARCH")
    assert report["files_read"] > 10_000, report
    assert any(n == "BEGIN SOLUTION" for _, n in report["file_hits"]), "the search cannot find anything"
    leaks = [hit for hit in report["file_hits"] + report["proc_hits"] + report["writable_hits"]
             if hit[1] != "BEGIN SOLUTION" or "/site-packages/nbgrader/" not in hit[0]]
    assert leaks == [], leaks
    detached = results["detached-child"]
    assert "DETACHED alive" in printed_text(detached), "the detached process never ran: the test would pass vacuously"
    assert detached.score <= 3 and not {"test_add_integers", "test_add_floats"} & passed(detached)
    assert both["extra"]["detached_after"]["docker"] == [], "the detached child outlived its submission"
    assert processes_named(DETACHED) == []


CHECKS_SORTED = tuple(sorted(CHECKS))


@needs_docker
def test_nothing_is_left_after_a_docker_batch(both):
    assert both["docker-leftovers"] == ([], [], [])


# --- end to end: the container itself ---------------------------------------------------------------

@needs_docker
def test_docker_inspect_shows_the_baseline(image: str, tmp_path: Path):
    info = db.check_image(image)
    public = tmp_path / "public"
    public.mkdir()
    sandbox = db.DockerSandbox(public, Limits(memory=256 * 1024**2, pids=100), image=info.name, user=info.user,
                               preimport=[])
    sandbox.start()
    try:
        name = sandbox._ready[0].name
        data = json.loads(subprocess.run(["docker", "inspect", name], capture_output=True, text=True).stdout)[0]
    finally:
        sandbox.close()
    host, config = data["HostConfig"], data["Config"]
    assert host["NetworkMode"] == "none" and host["CapDrop"] == ["ALL"] and host["Privileged"] is False
    assert host["SecurityOpt"] == ["no-new-privileges"] and host["ReadonlyRootfs"] is True
    assert host["IpcMode"] == "private" and host["Init"] is True and host["PidsLimit"] == 100
    assert host["Memory"] == host["MemorySwap"] == 256 * 1024**2 + sandbox.footprint > 256 * 1024**2
    assert {u["Name"]: (u["Soft"], u["Hard"]) for u in host["Ulimits"]} == {"core": (0, 0), "nofile": (256, 256)}
    assert set(host["Tmpfs"]) == {"/tmp", "/work/scratch"} and all("size=" in v for v in host["Tmpfs"].values())
    assert config["User"] == "10001:10001" and db.OWNER_LABEL in config["Labels"]
    mounts = {m["Destination"]: m for m in data["Mounts"]}
    assert set(mounts) == {"/run/autograder", "/work/public"} and all(not m["RW"] for m in mounts.values())
    assert not [e for e in config["Env"] if re.search(r"SECRET|TOKEN|KEY|AG_ATTACK|PYTEST", e)], config["Env"]
    assert wait_until_clean() == ([], [], [])


@needs_docker
def test_missing_and_stale_images_are_one_clear_sentence(image: str, tmp_path: Path):
    with pytest.raises(UserError, match=r"^the runner image autograder-runner:nope does not exist: run "
                                        r"`autograder image build`"):
        db.check_image("autograder-runner:nope")
    tag = f"autograder-runner:stale-{uuid.uuid4().hex[:6]}"
    dockerfile = f"FROM {image}\nLABEL autograder.hash=000000000000\n"
    built = subprocess.run(["docker", "build", "-q", "-t", tag, "-"], input=dockerfile, text=True,
                           capture_output=True, env={**os.environ, "DOCKER_BUILDKIT": "0"}, timeout=300)
    assert built.returncode == 0, built.stderr
    try:
        with pytest.raises(UserError, match=r"is stale \(built from another Dockerfile, requirements.lock or runner "
                                            r"code: 000000000000 here, [0-9a-f]{12} in this tree\): run "
                                            r"`autograder image build`$"):
            db.check_image(tag)
        course = toy_course(tmp_path)
        folder = tmp_path / "incoming"
        build(course, folder / "ana.ipynb")
        result = subprocess.run([*AUTOGRADER, "grade", ASSIGNMENT, "--submissions", str(folder), "--backend",
                                 "docker", "--image", tag], cwd=course.root, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "is stale" in result.stderr
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


# --- end to end: a grader killed mid-batch -----------------------------------------------------------

def _gradebook(root: Path) -> list[tuple]:
    with sqlite3.connect(root / "gradebook.db") as conn:
        return conn.execute("""SELECT st.name, r.score FROM runs r JOIN submissions s ON s.id = r.submission_id
                               JOIN students st ON st.id = s.student_id WHERE r.is_latest = 1
                               ORDER BY st.name""").fetchall()


@needs_docker
def test_killing_the_grader_leaves_nothing_after_the_next_run(image: str, tmp_path: Path):
    course = toy_course(tmp_path)
    folder = tmp_path / "incoming"
    students = ["a", "b", "c", "d", "e"]
    for name in students:  # correct, each taking a moment, so that the kill lands mid-batch
        build(course, folder / f"{name}.ipynb", after=("import time\ntime.sleep(2)",))
    # and a container that a killed grader left behind: its owner is gone
    orphan = subprocess.run(["docker", "run", "-d", "--label", f"{db.OWNER_LABEL}=999999999-1", "--network", "none",
                             image, "sleep", "600"], capture_output=True, text=True, timeout=120)
    assert orphan.returncode == 0, orphan.stderr
    before = volumes()
    grader = subprocess.Popen([*AUTOGRADER, "grade", ASSIGNMENT, "--submissions", str(folder), "--backend", "docker",
                               "--jobs", "2"], cwd=course.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if (course.root / "gradebook.db").exists() and 1 <= len(_gradebook(course.root)) < len(students):
                break
        except sqlite3.OperationalError:
            pass
        time.sleep(0.05)
    assert our_containers(), "the grader should be running containers when it is killed"
    grader.send_signal(signal.SIGKILL)
    grader.wait()
    partial = _gradebook(course.root)
    assert 1 <= len(partial) < len(students), "the kill should land mid-batch"
    # the workers die with the grader, their zygotes see the control socket close, the containers go
    deadline = time.monotonic() + 30
    while [c for c in our_containers() if not orphan.stdout.startswith(c)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [c for c in our_containers() if not orphan.stdout.startswith(c)] == []
    rerun = subprocess.run([*AUTOGRADER, "grade", ASSIGNMENT, "--submissions", str(folder), "--backend", "docker"],
                           cwd=course.root, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(partial)} already graded" in rerun.stdout
    assert sorted(_gradebook(course.root)) == [(name, 6.0) for name in students]
    assert wait_until_clean() == ([], [], []), "the orphan and everything of the killed grader are gone"
    assert volumes() == before

