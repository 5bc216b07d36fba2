"""``POST /autograder/check {"path": "<notebook, relative to the server's root>"}``: the check's report.

Only notebooks under the server's root directory are checked (the path is resolved, links included, before it
is compared); the server's own authentication guards the endpoint (token or password, and XSRF for cookies).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

# generous: the worker's own kernel enforces the assignment's time limit; this only stops a hung worker
WORKER_TIMEOUT = 900.0


def notebook_under(root: Path, relative: object) -> Path:
    """The notebook ``relative`` names inside ``root``; ValueError (one sentence) for anything else."""
    if not isinstance(relative, str) or not relative.strip():
        raise ValueError("the request names no notebook (expected {\"path\": \"<notebook>.ipynb\"})")
    root = root.resolve()
    path = (root / relative).resolve()  # an absolute path stays absolute, and is refused below
    if not path.is_relative_to(root):
        raise ValueError(f"{relative} is outside the folder this server serves")
    if path.suffix != ".ipynb":
        raise ValueError(f"{relative} is not a notebook (.ipynb)")
    if not path.is_file():
        raise ValueError(f"{relative} does not exist")
    return path


async def run_check(path: Path, cwd: Path, timeout: float = WORKER_TIMEOUT) -> dict[str, Any]:
    """Run the check in a child process (the loop stays free); the worker prints one JSON object."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "autograder_lab.worker", str(path), cwd=str(cwd),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise tornado.web.HTTPError(504, f"the check of {path.name} took over {timeout:g} s") from None
    try:
        return json.loads(out.decode())
    except ValueError:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise tornado.web.HTTPError(500, f"the check of {path.name} crashed: {tail[0]}"[:300]) from None


class CheckHandler(APIHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        root = Path(self.contents_manager.root_dir).expanduser()
        try:
            body = self.get_json_body() or {}
            path = notebook_under(root, body.get("path") if isinstance(body, dict) else None)
        except ValueError as exc:  # the message goes in the JSON body, which the panel shows
            raise tornado.web.HTTPError(400, str(exc)) from None
        # from where the server was started, like `autograder check` typed there (course.yml is found from the
        # notebook's folder, else from this one)
        result = await run_check(path, Path(os.getcwd()))
        if "problem" in result:  # the notebook itself is unusable: the CLI's one sentence
            raise tornado.web.HTTPError(422, result["problem"])
        self.finish(json.dumps(result))


def setup_handlers(web_app: Any) -> None:
    route = url_path_join(web_app.settings["base_url"], "autograder", "check")
    web_app.add_handlers(".*$", [(route, CheckHandler)])
