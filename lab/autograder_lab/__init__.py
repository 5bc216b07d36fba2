"""JupyterLab's "Check my work": a server endpoint running `autograder check` and the front-end that calls it.

The front-end (built into ``labextension/``) saves the notebook and POSTs its path to ``/autograder/check``;
the handler runs :func:`autograder.check.check_notebook` in a separate process (a check starts a kernel and can
take minutes; the server must keep serving) and answers the report as JSON.
"""

from __future__ import annotations

from typing import Any

from .handlers import setup_handlers

__version__ = "0.1.0"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "autograder-lab"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "autograder_lab"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    setup_handlers(serverapp.web_app)
    serverapp.log.info("autograder_lab: Check my work at /autograder/check")
