"""Where grading workers run: one module per pool, chosen here and nowhere else.

- :mod:`.local`: worker processes on this machine (``--jobs N``), the default;
- :mod:`.ray_cluster`: Ray actors on a cluster's nodes (``--cluster ADDRESS``); :mod:`.ray_local` starts a
  throw-away multi-node Ray here for tests, benchmarks and trying it out.

Every pool takes ``(key, code cells)`` or ``(key, code cells, language)`` items (the language of the checks'
descriptions and messages) and yields ``(key, Outcome)`` as runs finish, so the driver
(``grading.grade``) saves, resumes and reports the same way whatever the pool. Each worker holds a sandbox of
the kind ``backend`` names (:mod:`autograder.sandboxes`). A new pool is a new module with a class satisfying
:class:`WorkerPool`, and one branch in :func:`create`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..config import Assignment, Course
    from ..engine import Outcome
    from ..notebooks import CodeCell


class WorkerPool(Protocol):
    def map(self, items: list[tuple[Any, list[CodeCell]]]) -> Iterator[tuple[Any, Outcome]]: ...


def create(course: Course, assignment: Assignment, jobs: int | None = None, backend: str = "local",
           image: str | None = None, cluster: str | None = None) -> WorkerPool:
    """Workers on a Ray cluster's nodes when ``cluster`` names one (``jobs``: default every grader slot it
    offers), otherwise ``jobs`` (default 1) processes here."""
    if cluster:
        from .ray_cluster import RayPool
        return RayPool(course, assignment, cluster, jobs, backend=backend, image=image)
    from .local import Pool
    return Pool(course, assignment, jobs or 1, backend=backend, image=image)
