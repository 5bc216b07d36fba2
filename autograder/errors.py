"""Errors a user can fix. The CLI prints them as one line and exits with their code, never a traceback."""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """A problem with the user's input (a file, a flag, the course); ``str()`` is the one-line message."""

    exit_code = 2

    def __init__(self, message: str, path: Path | str | None = None):
        self.path = Path(path) if path is not None else None
        super().__init__(f"{path}: {message}" if path is not None else message)


class ConfigError(UserError):
    """course.yml is missing or wrong."""


class NotebookError(UserError):
    """A notebook cannot be read or is not a notebook of a known assignment."""


class AuthoringError(UserError):
    """A source notebook or a known-wrong spec breaks the authoring rules (docs/authoring.md)."""
