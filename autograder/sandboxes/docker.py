"""The Docker backend: the same runner and trusted harness as the local sandbox, with the runner in a container.

Only the runner (runner.py and protocol.py, baked into a pinned image with the course's libraries) runs in the
container; the hidden checks stay on the host, in the trusted worker. The container's zygote connects to the
worker over a SOCK_SEQPACKET unix socket in a private host folder bind-mounted read-only into the container, and
receives each submission's channel socket and output pipe over it (SCM_RIGHTS works across a bind mount: one
kernel). After the zygote has connected the socket file is removed, so nothing else can connect.

Each container serves exactly one submission process and is then killed and removed: a :class:`DockerSandbox`
keeps a small pool of warm containers (started, zygote connected, libraries imported), filled by a background
thread, so a submission pays neither a cold container nor `import torch`. Containers carry the baseline of
/work/shared/reference/attacks.md (see :func:`run_command`), a label naming the worker that owns them (removed
by the next grader once that worker is gone), and at most one GPU, leased per worker across processes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ..errors import UserError
from .common import (
    BOOTSTRAP,
    PREIMPORT,
    PUBLIC,
    RUNNER_MODULES,
    SCRATCH,
    SETTINGS_FILE,
    Cgroup,
    Child,
    Limits,
    ReapInfo,
    SandboxError,
    _gib,
    owned_folder,
    owner_alive,
    owner_token,
    parse_control_reply,
    reap_child,
    remove_folders_of_dead_owners,
    runner_env,
    spawn_child,
    write_runner_package,
    zygote_settings,
)

PACKAGE = Path(__file__).resolve().parents[1]  # autograder/
REPO = PACKAGE.parent
DOCKER_DIR = REPO / "docker"
LOCK_FILE = REPO / "requirements.lock"
IMAGE_REPO = "autograder-runner"
LOCAL_BASE = "autograder-base:bookworm"      # what docker/build-base.sh builds
DEFAULT_BASE = {"cpu": "python:3.11-slim", "gpu": "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04"}
OWNER_LABEL = "autograder.grader"             # <worker pid>-<its start time>: who removes the container
PYTHON = "/opt/venv/bin/python"
SOCKET_DIR = "/run/autograder"                # where the control socket's folder is mounted in the container
SOCKET_DIR_PREFIX = "ag-docker-"              # the host's folder for a worker's control sockets: <tmp>/ag-docker-*
WARM_GUESS = 2 * 1024**3                      # memory allowed for the warm runtime until it has been measured
START_TIMEOUT = 180.0                         # seconds for a container to connect and import its libraries
SPAWN_WAIT = 300.0                            # seconds a submission waits for a warm container


def dockerfile(gpu: bool) -> Path:
    return DOCKER_DIR / ("Dockerfile.gpu" if gpu else "Dockerfile")


def kind_of(gpu: bool) -> str:
    return "gpu" if gpu else "cpu"


def _build_flag(kind: str) -> str:
    return "autograder image build" + (" --gpu" if kind == "gpu" else "")


# --- the docker command --------------------------------------------------------------------------

def docker_cli() -> str:
    path = shutil.which("docker")
    if not path:
        raise UserError("Docker is not installed: install it (`apt-get install docker.io`, or `make docker-test`, "
                        "which also starts the daemon) or grade with --backend local")
    return path


def _docker(*args: str, timeout: float = 120.0, check: bool = False) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run([docker_cli(), *args], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise SandboxError(f"`docker {args[0]}` did not answer within {timeout:g} s") from None
    if check and done.returncode != 0:
        raise SandboxError(f"`docker {args[0]}` failed: {_last_line(done.stderr)}")
    return done


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no message"


def check_daemon() -> None:
    """One clear sentence when there is no docker command or no daemon behind it."""
    done = _docker("version", "--format", "{{.Server.Version}}", timeout=30)
    if done.returncode != 0 or not done.stdout.strip():
        raise UserError("the Docker daemon is not running or not reachable (`docker version` failed): start it "
                        "(`systemctl start docker`, or `dockerd &` as root) or grade with --backend local")


# --- images --------------------------------------------------------------------------------------

def image_hash(gpu: bool) -> str:
    """12 hex digits over what goes into the runner image: its Dockerfile, the lock file and the runner code."""
    digest = hashlib.sha256()
    parts = [dockerfile(gpu), LOCK_FILE, *(PACKAGE / name for name in RUNNER_MODULES)]
    for path in parts:
        if not path.is_file():
            raise UserError(f"{path} is missing: the runner image is built from the project's source tree")
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def image_tags(gpu: bool, repo: str = IMAGE_REPO) -> list[str]:
    kind = kind_of(gpu)
    return [f"{repo}:{kind}-{image_hash(gpu)}", f"{repo}:{kind}"]


def build_command(docker: str, context: Path, gpu: bool, base: str, tags: list[str]) -> list[str]:
    cmd = [docker, "build", "--force-rm", "--build-arg", f"BASE_IMAGE={base}",
           "--build-arg", f"AG_HASH={image_hash(gpu)}", "--build-arg", f"AG_KIND={kind_of(gpu)}"]
    for tag in tags:
        cmd += ["--tag", tag]
    return [*cmd, str(context)]


def fill_wheelhouse(folder: Path, gpu: bool) -> None:
    """`pip wheel` the lock file into ``folder`` on the host (wheels for everything, sdists built here)."""
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if gpu:  # PyPI's torch wheel is the CUDA build; this host's pip configuration may prefer a CPU one
        env["PIP_CONFIG_FILE"] = os.devnull
        env.pop("PIP_FIND_LINKS", None)
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "-r", str(LOCK_FILE), "-w", str(folder)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise UserError(f"could not download the pinned packages into the wheelhouse {folder} (`pip wheel` "
                        f"failed: {_last_line(done.stderr)})")


def build_image(gpu: bool = False, base: str | None = None, wheelhouse: Path | None = None,
                repo: str = IMAGE_REPO, echo=print) -> list[str]:
    """Build the runner image from this tree and tag it ``<repo>:<kind>-<hash>`` and ``<repo>:<kind>``."""
    docker = docker_cli()
    check_daemon()
    kind = kind_of(gpu)
    base = base or os.environ.get("AUTOGRADER_BASE_IMAGE") or DEFAULT_BASE[kind]
    tags = image_tags(gpu, repo)
    built = _docker("image", "inspect", "--format", '{{index .Config.Labels "autograder.base"}}', tags[0], timeout=30)
    if built.returncode == 0 and built.stdout.strip() == base:  # the content hash says it: nothing changed
        _docker("tag", tags[0], tags[1], timeout=60, check=True)
        echo(f"{tags[0]} is up to date (built from {base})")
        return tags
    if _docker("image", "inspect", base, timeout=30).returncode != 0 and \
            _docker("pull", base, timeout=1800).returncode != 0:
        raise UserError(f"the base image {base} is not here and cannot be pulled: build a local one with "
                        f"`docker/build-base.sh` and pass `--base {LOCAL_BASE}` (or any image with Python 3.11)")
    with tempfile.TemporaryDirectory(prefix="ag-image-") as tmp:
        context = Path(tmp)
        shutil.copy(dockerfile(gpu), context / "Dockerfile")
        shutil.copy(LOCK_FILE, context / "requirements.lock")
        write_runner_package(context)
        copy_fonts(context / "fonts")
        wheels = context / "wheelhouse"
        wheels.mkdir()
        if wheelhouse is not None:
            if not any(Path(wheelhouse).glob("*.whl")):
                echo(f"filling the wheelhouse {wheelhouse} with the pinned packages (pip wheel) …")
                fill_wheelhouse(Path(wheelhouse), gpu)
            for wheel in Path(wheelhouse).glob("*.whl"):
                try:
                    os.link(wheel, wheels / wheel.name)
                except OSError:
                    shutil.copy(wheel, wheels / wheel.name)
        env = dict(os.environ)
        if "DOCKER_BUILDKIT" not in env and _docker("buildx", "version", timeout=30).returncode != 0:
            env["DOCKER_BUILDKIT"] = "0"  # no buildx plugin: the classic builder (the Dockerfiles need nothing more)
        echo(f"building {tags[0]} from {base} ({'offline, from the wheelhouse' if wheelhouse else 'online'}) …")
        done = subprocess.run(build_command(docker, context, gpu, base, tags), env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise UserError(f"`docker build` failed for {tags[0]}:\n{tail}")
    return tags


# NanumGothic (Debian fonts-nanum) from this machine: plots with Korean labels render in the image as in the local
# sandbox (autograder/matplotlibrc names it), and the build needs no package mirror (air-gapped servers).
FONT_DIR = Path("/usr/share/fonts/truetype/nanum")
FONTS = ("NanumGothic.ttf", "NanumGothicBold.ttf")


def copy_fonts(into: Path) -> None:
    """The Korean fonts the image gets, copied into the build context (``fonts/``)."""
    missing = [name for name in FONTS if not (FONT_DIR / name).is_file()]
    if missing:
        raise UserError(f"{FONT_DIR / missing[0]} is missing: the runner image takes its Korean font from this "
                        "machine; install it with `make system` (or `apt-get install fonts-nanum`)")
    into.mkdir(parents=True, exist_ok=True)
    for name in FONTS:
        shutil.copy(FONT_DIR / name, into / name)


@dataclass(frozen=True)
class ImageInfo:
    name: str
    kind: str
    user: str


def check_image(image: str) -> ImageInfo:
    """The runner image exists, was built from this tree and runs as a non-root user; else one clear sentence."""
    kind_hint = "gpu" if "gpu" in image.rpartition(":")[2] else "cpu"
    done = _docker("image", "inspect", "--format", "{{json .Config}}", image, timeout=30)
    if done.returncode != 0:
        raise UserError(f"the runner image {image} does not exist: run `{_build_flag(kind_hint)}`"
                        + (" (see `make docker-test` for a machine without an image registry)"
                           if kind_hint == "cpu" else ""))
    config = json.loads(done.stdout or "{}") or {}
    labels = config.get("Labels") or {}
    kind = labels.get("autograder.kind") if labels.get("autograder.kind") in ("cpu", "gpu") else kind_hint
    built, current = labels.get("autograder.hash"), image_hash(kind == "gpu")
    if built != current:
        raise UserError(f"the runner image {image} is stale (built from another Dockerfile, requirements.lock or "
                        f"runner code: {built or 'no hash'} here, {current} in this tree): run `{_build_flag(kind)}`")
    user = str(config.get("User") or "")
    if user.split(":")[0] in ("", "0", "root"):
        raise UserError(f"the runner image {image} runs as root: rebuild it with `{_build_flag(kind)}`")
    return ImageInfo(image, kind, user)


# --- GPUs ----------------------------------------------------------------------------------------

_GPU_LINE = re.compile(r"^GPU\s+\d+:.*\(UUID:\s*(GPU-[0-9A-Fa-f-]+)\)")
_MIG_LINE = re.compile(r"^\s+MIG\s+.*\(UUID:\s*(MIG-[^\s)]+)\)")


def parse_gpu_list(listing: str) -> list[str]:
    """Devices from `nvidia-smi -L`: each GPU's UUID, or the UUIDs of its MIG slices when it is partitioned."""
    devices: list[tuple[str, list[str]]] = []
    for line in listing.splitlines():
        if match := _GPU_LINE.match(line):
            devices.append((match.group(1), []))
        elif (match := _MIG_LINE.match(line)) and devices:
            devices[-1][1].append(match.group(1))
    return [uid for gpu, migs in devices for uid in (migs or [gpu])]


def discover_gpus() -> list[str]:
    """GPU and MIG UUIDs on this host ([] without nvidia-smi or a driver)."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    try:
        listing = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30)
        devices = parse_gpu_list(listing.stdout) if listing.returncode == 0 else []
        if not devices:
            query = subprocess.run([smi, "--query-gpu=uuid", "--format=csv,noheader"], capture_output=True,
                                   text=True, timeout=30)
            devices = [line.strip() for line in query.stdout.splitlines() if line.strip().startswith("GPU-")]
    except (OSError, subprocess.TimeoutExpired):
        return []
    return devices


def gpus_for(gpu_use: str, jobs: int, assignment_id: str = "this assignment",
             found: list[str] | None = None) -> list[str]:
    """The devices a batch may lease: none for `gpu: none`; for `required`, a clear error when there are none."""
    if gpu_use == "none":
        return []
    devices = discover_gpus() if found is None else found
    if gpu_use == "required" and not devices:
        raise UserError(f"{assignment_id} requires a GPU (gpu: required) but this machine has none "
                        "(`nvidia-smi -L` lists no device): grade it on a machine with a GPU")
    return devices


class GpuLease:
    """One GPU (or MIG slice) held by one worker, across processes: an flock on a file per device, released
    when the lease is released or the process dies. With more workers than devices, the rest wait."""

    def __init__(self, device: str, handle: IO):
        self.device, self._handle = device, handle

    @classmethod
    def acquire(cls, devices: list[str], folder: Path | None = None, timeout: float | None = None,
                poll: float = 0.2) -> GpuLease:
        folder = folder or Path(tempfile.gettempdir()) / "autograder-gpus"
        folder.mkdir(mode=0o700, exist_ok=True)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            for device in devices:
                handle = open(folder / f"{device}.lock", "a+")  # noqa: SIM115 - held for the lease's life
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.close()
                    continue
                return cls(device, handle)
            if deadline is not None and time.monotonic() >= deadline:
                raise SandboxError(f"no GPU became free within {timeout:g} s")
            time.sleep(poll)

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


# --- owners and leftovers ------------------------------------------------------------------------

def remove_stale_containers() -> int:
    """Remove runner containers (and socket folders) whose worker is gone: a grader that was killed."""
    done = _docker("ps", "--all", "--no-trunc", "--filter", f"label={OWNER_LABEL}",
                   "--format", f'{{{{.ID}}}} {{{{.Label "{OWNER_LABEL}"}}}}', timeout=60)
    stale = [line.split()[0] for line in done.stdout.splitlines()
             if line.strip() and not owner_alive(line.split()[-1])]
    if stale:
        _docker("rm", "--force", "--volumes", *stale, timeout=120)
    remove_folders_of_dead_owners(SOCKET_DIR_PREFIX)
    return len(stale)


# --- the container -------------------------------------------------------------------------------

def container_env(limits: Limits) -> dict[str, str]:
    """The whole environment of the runner, as in the local sandbox, with the image's venv on PATH."""
    return runner_env(limits, path="/opt/venv/bin:/usr/local/bin:/usr/bin:/bin")


def run_command(*, docker: str, image: str, name: str, user: str, owner: str, socket_dir: Path,
                public_dir: Path | None, limits: Limits, memory: int, gpu: str | None = None) -> list[str]:
    """`docker run` for one warm runner container, with the baseline flags of attacks.md."""
    uid, _, gid = user.partition(":")
    gid = gid or uid
    cmd = [docker, "run", "--detach", "--rm", "--name", name, "--label", f"{OWNER_LABEL}={owner}",
           "--network", "none", "--user", f"{uid}:{gid}", "--cap-drop", "ALL",
           "--security-opt", "no-new-privileges", "--read-only",
           "--tmpfs", f"/tmp:rw,exec,nosuid,nodev,size={limits.scratch},mode=1777",
           "--tmpfs", f"{SCRATCH}:rw,exec,nosuid,nodev,size={limits.scratch},uid={uid},gid={gid},mode=0755",
           "--shm-size", str(limits.scratch),
           "--memory", str(memory), "--memory-swap", str(memory),
           "--pids-limit", str(limits.pids),
           "--ulimit", "core=0", "--ulimit", f"nofile={limits.nofile}:{limits.nofile}",
           "--ipc", "private", "--init", "--hostname", "sandbox", "--workdir", SCRATCH,
           "--log-driver", "none",
           "--mount", f"type=bind,source={socket_dir},target={SOCKET_DIR},readonly"]
    if public_dir is not None:
        cmd += ["--mount", f"type=bind,source={public_dir},target={PUBLIC},readonly"]
    if gpu:
        cmd += ["--gpus", f'"device={gpu}"']
    for key, value in container_env(limits).items():
        cmd += ["--env", f"{key}={value}"]
    return [*cmd, image, PYTHON, "-I", "-c", BOOTSTRAP, f"{SOCKET_DIR}/{SETTINGS_FILE}"]


def _memory_cgroup(pid: int) -> Cgroup | None:
    """The container's memory cgroup, found from its zygote's host pid (cgroup v1 or v2)."""
    try:
        with open(f"/proc/{pid}/cgroup") as table:
            lines = table.read().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            folder = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
            if folder.is_dir():
                return Cgroup([folder], 1)
    for line in lines:
        if line.startswith("0::"):
            for root in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
                folder = root / line[3:].lstrip("/")
                if (folder / "memory.current").is_file():
                    return Cgroup([folder], 2)
    return None


@dataclass
class Container:
    """One warm runner container: serves one submission process, then is removed."""

    name: str
    folder: Path
    control: socket.socket | None = None
    cgroup: Cgroup | None = None
    oom_before: int = 0
    removal: threading.Thread | None = field(default=None, repr=False)


class DockerSandbox:
    """The :class:`~autograder.sandboxes.Sandbox` interface over a pool of warm runner containers."""

    def __init__(self, public_dir: Path | None, limits: Limits, image: str, user: str = "10001:10001",
                 gpu_devices: list[str] | None = None, preimport: list[str] | None = None, warm: int = 1):
        self.public_dir, self.limits, self.image, self.user = public_dir, limits, image, user
        self.gpu_devices = list(gpu_devices or [])
        self.preimport = PREIMPORT if preimport is None else preimport
        self.warm = max(1, warm)
        self.docker = docker_cli()
        self.owner = owner_token()
        self.footprint: int | None = None    # the warm runtime's memory, measured in the first container
        self.gpu: str | None = None
        self.root: Path | None = None
        self._public_copy: Path | None = None
        self._lease: GpuLease | None = None
        self._cond = threading.Condition()
        self._ready: list[Container] = []
        self._current: Container | None = None
        self._removals: list[threading.Thread] = []
        self._filler: threading.Thread | None = None
        self._closing = False
        self._dead = False
        self._error: str | None = None

    # lifecycle
    def start(self, timeout: float = START_TIMEOUT) -> None:
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Lease a GPU if the job gets one, then start filling the pool in the background."""
        self.root = owned_folder(SOCKET_DIR_PREFIX)
        self._public_copy = None
        if self.public_dir is not None and self.public_dir.is_dir():  # a copy: no course path in the mount table
            self._public_copy = self.root / "public"
            shutil.copytree(self.public_dir, self._public_copy, ignore=shutil.ignore_patterns("*.ipynb"))
            for path in [self._public_copy, *self._public_copy.rglob("*")]:
                path.chmod(0o755 if path.is_dir() else 0o644)
        if self.gpu_devices:
            self._lease = GpuLease.acquire(self.gpu_devices)
            self.gpu = self._lease.device
        self._closing, self._dead, self._error = False, False, None
        self._filler = threading.Thread(target=self._fill, daemon=True, name="docker-pool")
        self._filler.start()

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        with self._cond:
            ready = bool(self._cond.wait_for(lambda: self._ready or self._dead, timeout)) and bool(self._ready)
            error = self._error or f"no runner container was ready within {timeout:g} s"
        if not ready:
            self.close()
            raise SandboxError(error)

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            leftovers = [c for c in [*self._ready, self._current] if c is not None]
            self._ready, self._current = [], None
        if self._filler is not None:
            self._filler.join(START_TIMEOUT)
            self._filler = None
        for container in leftovers:
            if container.control is not None:
                container.control.close()
        if leftovers:
            _docker("rm", "--force", *[c.name for c in leftovers], timeout=120)
        for thread in self._removals:
            thread.join(120)
        self._removals = []
        if self._lease is not None:
            self._lease.release()
            self._lease, self.gpu = None, None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def restart(self) -> None:
        self.close()
        self.start()

    @property
    def alive(self) -> bool:
        return self._filler is not None and self._filler.is_alive() and not self._dead

    # the pool
    def _fill(self) -> None:
        failures = 0
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closing or len(self._ready) < self.warm)
                if self._closing:
                    return
            try:
                container = self._start_container()
            except (SandboxError, OSError) as exc:
                failures += 1
                with self._cond:
                    self._error = f"a runner container did not start ({exc})"
                    if failures >= 3 or self._closing:
                        self._dead = True
                        self._cond.notify_all()
                        return
                time.sleep(failures)
                continue
            failures = 0
            with self._cond:
                if not self._closing:
                    self._ready.append(container)
                    self._cond.notify_all()
                    continue
            self._remove(container, wait=True)
            return

    def _start_container(self) -> Container:
        name = f"ag-{self.owner}-{uuid.uuid4().hex[:8]}"
        folder = self.root / name
        folder.mkdir(mode=0o755)
        folder.chmod(0o755)
        container = Container(name, folder)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        path = folder / "control.sock"
        try:
            listener.bind(str(path))
            uid, _, gid = self.user.partition(":")
            os.chown(path, int(uid), int(gid or uid))
            path.chmod(0o600)
            listener.listen(1)
            settings = zygote_settings(self.limits, self.preimport, 0, isolate=False,
                                       control_path=f"{SOCKET_DIR}/control.sock")
            (folder / SETTINGS_FILE).write_text(json.dumps(settings), encoding="utf-8")
            (folder / SETTINGS_FILE).chmod(0o644)
            cmd = run_command(docker=self.docker, image=self.image, name=name, user=self.user, owner=self.owner,
                              socket_dir=folder, public_dir=self._public_copy, limits=self.limits,
                              memory=self.limits.memory + (self.footprint or WARM_GUESS), gpu=self.gpu)
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=START_TIMEOUT,
                                  stdin=subprocess.DEVNULL)
            if done.returncode != 0:
                raise SandboxError(f"`docker run` failed: {_last_line(done.stderr)}")
            container.control = self._accept(listener, name)
        except BaseException:
            listener.close()
            self._remove(container, wait=True)
            raise
        listener.close()
        path.unlink(missing_ok=True)  # nothing else may connect
        try:
            reply = self._control_reply(container, START_TIMEOUT, watch_closing=True)
            if not reply.get("ready"):
                raise SandboxError("the runner in the container did not start")
            creds = container.control.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            container.cgroup = _memory_cgroup(struct.unpack("3i", creds)[0])
            if self.footprint is None and container.cgroup is not None:
                # as the local sandbox: the submission's allowance on top of the warm runtime, measured once
                self.footprint = -(-container.cgroup.usage() // (16 << 20)) * (16 << 20) + (32 << 20)
                memory = str(self.limits.memory + self.footprint)
                _docker("update", "--memory", memory, "--memory-swap", memory, name, timeout=60, check=True)
        except BaseException:
            self._remove(container, wait=True)
            raise
        return container

    def _accept(self, listener: socket.socket, name: str) -> socket.socket:
        deadline = time.monotonic() + START_TIMEOUT
        listener.settimeout(1.0)
        checked = time.monotonic()
        while True:
            try:
                connection, _ = listener.accept()
                return connection
            except TimeoutError:
                pass
            if self._closing:
                raise SandboxError("the sandbox is closing")
            if time.monotonic() >= deadline:
                raise SandboxError(f"the runner container did not connect within {START_TIMEOUT:g} s")
            if time.monotonic() - checked > 5:  # a container that died at start never connects: say so early
                checked = time.monotonic()
                if _docker("inspect", "--format", "{{.State.Running}}", name, timeout=30).stdout.strip() != "true":
                    raise SandboxError("the runner container exited before it connected")

    def _control_reply(self, container: Container, timeout: float, watch_closing: bool = False) -> dict:
        control = container.control
        deadline = time.monotonic() + timeout
        while True:
            control.settimeout(min(1.0, max(0.001, deadline - time.monotonic())) if watch_closing else timeout)
            try:
                data = control.recv(65536)
                break
            except TimeoutError:
                if not watch_closing or time.monotonic() >= deadline:
                    raise SandboxError("the runner did not answer (TimeoutError)") from None
                if self._closing:
                    raise SandboxError("the sandbox is closing") from None
            except OSError as exc:
                raise SandboxError(f"the runner did not answer ({type(exc).__name__})") from None
        return parse_control_reply(data)

    def _remove(self, container: Container, wait: bool) -> None:
        """Kill and remove a container (now, or in the background when its zygote already killed the rest)."""
        if container.control is not None:
            container.control.close()
            container.control = None

        def remove() -> None:
            _docker("rm", "--force", container.name, timeout=120)
            shutil.rmtree(container.folder, ignore_errors=True)

        if wait:
            remove()
            return
        thread = threading.Thread(target=remove, daemon=True, name=f"rm-{container.name}")
        thread.start()
        self._removals = [t for t in self._removals if t.is_alive()] + [thread]

    # one submission
    def spawn(self) -> Child:
        with self._cond:
            if self._current is not None:
                raise SandboxError("a submission is already running in this sandbox")
            self._cond.wait_for(lambda: self._ready or self._dead or self._closing, SPAWN_WAIT)
            if not self._ready:
                raise SandboxError(self._error or "no warm runner container became ready")
            container = self._current = self._ready.pop(0)
            self._cond.notify_all()  # the pool starts the next one
        container.oom_before = container.cgroup.oom_kills() if container.cgroup else 0
        try:
            return spawn_child(container.control, lambda: self._control_reply(container, 10.0), self.limits.output)
        except SandboxError:
            self._current = None
            self._remove(container, wait=True)
            raise

    def reap(self, child: Child, ended: bool = False) -> ReapInfo:
        """End the submission: the zygote kills its processes (for their status), then the container goes."""
        child.channel.close()
        container, self._current = self._current, None
        if container is None:
            return ReapInfo(None, False)
        status, healthy = reap_child(container.control, lambda: self._control_reply(container, 10.0), ended)
        if container.cgroup is not None:
            try:
                oom = container.cgroup.oom_kills() > container.oom_before
            except OSError:
                oom = False
        else:
            oom = _docker("inspect", "--format", "{{.State.OOMKilled}}", container.name).stdout.strip() == "true"
        self._remove(container, wait=not healthy)  # a zygote that was stopped or killed: remove before going on
        return ReapInfo(status, oom)

    def describe_memory(self) -> str:
        return _gib(self.limits.memory)


# --- a batch -------------------------------------------------------------------------------------

def prepare(assignment, image: str, jobs: int) -> dict:
    """Before a batch: daemon, image and GPUs checked; returns the worker config's docker keys and the number of
    parallel jobs (no more than the GPUs when the jobs get one each)."""
    docker_cli()
    check_daemon()
    info = check_image(image)
    gpus = gpus_for(assignment.gpu.value, jobs, assignment.id)
    return {"backend": "docker", "image": info.name, "image_user": info.user, "gpus": gpus, "warm": 1,
            "jobs": jobs_for(jobs, gpus)}


def jobs_for(jobs: int, gpus: list[str]) -> int:
    """One GPU per job: no more parallel jobs than devices (the other submissions wait for a free one)."""
    return max(1, min(jobs, len(gpus)) if gpus else jobs)
