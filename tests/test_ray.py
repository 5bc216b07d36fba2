"""Grading on a real multi-node Ray cluster: a head and two worker nodes started here as separate `ray start`
processes (not local mode), the week-1 demo batch graded through them, then a worker node killed mid-batch.

Every Ray process must run in a network namespace with only loopback up (Ray probes outside addresses on start),
so these tests run through `make ray-test`, which runs pytest inside `unshare --net --pid`; anywhere else they are
skipped with that reason."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autograder.config import Course
from autograder.errors import UserError
from autograder.grading import grade
from autograder.pools.ray_local import LocalCluster, loopback_only
from autograder.store import Store

from .conftest import REPO, week1_course

pytestmark = [pytest.mark.ray, pytest.mark.skipif(
    not loopback_only(), reason="the Ray cluster runs only in a loopback-only network namespace: `make ray-test`")]

SAMPLES = REPO / "examples" / "submissions"
COPIES = 2  # 22 submissions: enough that every node is busy for a while


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    cluster = LocalCluster()
    try:
        cluster.add_node("node_b")
        cluster.add_node("node_c")
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Course:
    return week1_course(tmp_path_factory.mktemp("ray") / "course")


@pytest.fixture(scope="module")
def local_gradebook(course: Course, tmp_path_factory: pytest.TempPathFactory) -> dict:
    db = tmp_path_factory.mktemp("local") / "gradebook.db"
    grade(course, course.assignment("week01-markov"), submissions=_batch(tmp_path_factory.mktemp("in")),
          jobs=2, regrade=True, database=db)
    return _gradebook(db)


def _batch(folder: Path) -> Path:
    """The demo samples (perfect, partial, blank, broken, malicious), COPIES times under distinct names."""
    folder.mkdir(parents=True, exist_ok=True)
    for copy in range(COPIES):
        for sample in SAMPLES.glob("*.ipynb"):
            shutil.copy(sample, folder / f"{sample.stem}_{copy}.ipynb")
    return folder


def _gradebook(db: Path) -> dict:
    with Store(db) as store:
        return {r.student: (r.status.value, r.score, r.max_score, sorted((t.test_id, t.passed) for t in r.tests))
                for r in store.latest("week01-markov")}


def test_an_unreachable_cluster_is_one_sentence():
    from autograder.pools.ray_cluster import connect

    started = time.monotonic()
    with pytest.raises(UserError, match=r"^no Ray cluster answers at 127\.0\.0\.1:1: Connection refused$"):
        connect("127.0.0.1:1")
    assert time.monotonic() - started < 15


def test_a_batch_on_two_nodes_matches_the_local_engine(cluster: LocalCluster, course: Course,
                                                       local_gradebook: dict, tmp_path: Path):
    import ray

    db = tmp_path / "gradebook.db"
    batch = grade(course, course.assignment("week01-markov"), submissions=_batch(tmp_path / "in"),
                  cluster=cluster.address, regrade=True, database=db)
    assert len(batch.results) == 11 * COPIES and not any("lost" in w for w in batch.warnings)
    assert _gradebook(db) == local_gradebook
    alive = [n for n in ray.nodes() if n["Alive"] and n["Resources"].get("grader")]
    assert len(alive) == 2


def test_a_node_killed_mid_batch_loses_nothing(cluster: LocalCluster, course: Course, local_gradebook: dict,
                                               tmp_path: Path):
    """A third node joins, takes work, and is crashed once the batch is well under way: what it held is graded
    on the survivors, nothing is lost or counted twice, and the gradebook equals the local engine's."""
    victim = cluster.add_node("victim")
    killed = threading.Event()
    graded: list[str] = []

    def on_result(result) -> None:
        graded.append(result.student)
        if len(graded) == 6 and not killed.is_set():  # every node has been busy for a while by now
            victim.kill()
            killed.set()

    db = tmp_path / "gradebook.db"
    try:
        batch = grade(course, course.assignment("week01-markov"), submissions=_batch(tmp_path / "in"),
                      cluster=cluster.address, regrade=True, database=db, on_result=on_result)
    finally:
        victim.kill()
    assert killed.is_set()
    assert any("grading worker(s) were lost" in w for w in batch.warnings), batch.warnings
    assert len(graded) == len(set(graded)) == 11 * COPIES, "nothing lost or counted twice"
    assert _gradebook(db) == local_gradebook

