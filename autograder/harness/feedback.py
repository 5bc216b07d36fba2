"""Student-facing failure messages: the author's words or the student's own error, never the hidden test."""

from __future__ import annotations

MAX_MESSAGE = 400
GENERIC_FAILURE = "this check failed"


class SubmissionError(Exception):
    """The student's code raised while a check called it; carries only the student's side of the story."""

    def __init__(self, name: str, error_type: str, message: str):
        self.name, self.error_type, self.message = name, error_type, message
        super().__init__(student_error_text(name, error_type, message))


class MissingName(SubmissionError):
    """The notebook does not define a name a check needs."""

    def __init__(self, name: str):
        super().__init__(name, "NameError", "")
        self.args = (f"your notebook does not define `{name}` at the top level",)


def student_error_text(name: str, error_type: str, message: str) -> str:
    if error_type == "NotImplementedError" and not message:
        return f"`{name}` is not implemented yet (it still raises NotImplementedError)"
    detail = f": {message}" if message else ""
    return f"`{name}` raised {error_type}{detail}"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def describe_failure(exc: BaseException) -> str:
    """One line for the student about why a hidden check failed.

    Assertion messages are written by the check's author for students; assertion introspection is off, so a
    bare ``assert`` carries no text and gets a generic line. Any other exception came from the submission
    (a :class:`SubmissionError`) or from a result of the wrong kind, and is named by type only.
    """
    if isinstance(exc, SubmissionError):
        return _clip(str(exc))
    if isinstance(exc, AssertionError):
        return _clip(str(exc)) or GENERIC_FAILURE
    if isinstance(exc, NotImplementedError):
        return "part of the submission is not implemented yet (it still raises NotImplementedError)"
    return _clip(f"the check could not use your result ({type(exc).__name__})")
