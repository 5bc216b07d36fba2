"""What isolates a submission's code: one module per sandbox, chosen here and nowhere else.

- ``local`` (:mod:`.bubblewrap`): bubblewrap namespaces and cgroups on the grading machine, the default;
- ``docker`` (:mod:`.docker`): the runner image in containers, with GPUs by UUID.

Both hold a warm runner (``runner.py``) and hand each submission a fresh process of its own; what they share
(limits, cgroups, the runner package and the channel to it) is in :mod:`.common`. A new sandbox is a new module
with a class satisfying :class:`Sandbox`, and one entry in each function below.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import UserError
from .common import Child, Limits, ReapInfo

if TYPE_CHECKING:
    from ..config import Assignment

SANDBOXES = ("local", "docker")


class Sandbox(Protocol):
    """A warm runner that serves one submission process at a time (the worker's view of it)."""

    def launch(self) -> None: ...             # start the runner (returns before it is ready)
    def wait_ready(self) -> None: ...         # until it has imported its libraries
    def spawn(self) -> Child: ...             # a fresh process for the next submission
    def reap(self, child: Child, ended: bool = False) -> ReapInfo: ...  # end it; what killed it, if anything
    def restart(self) -> None: ...            # a new runner (after an infrastructure failure)
    def close(self) -> None: ...              # stop it and remove everything it left
    def describe_memory(self) -> str: ...     # the memory limit as people write it
    @property
    def alive(self) -> bool: ...


def check_backend(backend: str) -> None:
    if backend not in SANDBOXES:
        raise UserError(f"unknown backend {backend!r} (use {' or '.join(SANDBOXES)})")


def prepare(assignment: Assignment, backend: str, image: str | None, jobs: int) -> dict[str, Any]:
    """Before a batch, where the workers will run: the sandbox is there and usable (one clear sentence if not).
    Returns the worker config's sandbox keys, with "jobs" (Docker lowers it to the GPUs there are)."""
    check_backend(backend)
    if backend == "docker":
        from .docker import prepare as prepare_docker
        return prepare_docker(assignment, image or assignment.image, jobs)
    from .bubblewrap import bwrap_path
    bwrap_path()
    return {"jobs": jobs}


def create(config: dict[str, Any], public: Path | None, limits: Limits) -> Sandbox:
    """The sandbox a grading worker holds, from its config (``prepare``'s keys)."""
    preimport = config.get("preimport")
    if config.get("backend", "local") == "docker":
        from .docker import DockerSandbox
        return DockerSandbox(public, limits, image=config["image"], user=config["image_user"],
                             gpu_devices=config.get("gpus"), preimport=preimport, warm=int(config.get("warm", 1)))
    from .bubblewrap import BubblewrapSandbox
    return BubblewrapSandbox(public, limits, gpu=bool(config.get("gpu")), preimport=preimport)


def remove_leftovers(backend: str) -> None:
    """Remove the sandboxes (runner folders and cgroups, or containers) of workers that are gone: a grader killed
    earlier, or a worker killed in this batch because it stopped answering."""
    if backend == "docker":
        from .docker import remove_stale_containers
        remove_stale_containers()
    else:
        from .bubblewrap import remove_stale_sandboxes
        remove_stale_sandboxes()
