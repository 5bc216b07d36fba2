"""Student-facing failure messages: the author's words or the student's own error, never the hidden test.

What the submission itself says while a hidden check calls it (an exception's message, a class it made up on the
spot) could carry the check's inputs out (attacks.md #36): students see the exception's type, only when it is one
of Python's or the course libraries' own, and where in their own cells it was raised.
"""

from __future__ import annotations

import builtins

from ..i18n import N_, _

MAX_MESSAGE = 400
GENERIC_FAILURE = N_("this check failed")
# exception types whose names a submission cannot choose: Python's own and the course libraries' usual ones
KNOWN_ERROR_TYPES = frozenset(
    {name for name, value in vars(builtins).items() if isinstance(value, type) and issubclass(value, BaseException)}
    | {"LinAlgError", "AxisError", "DTypePromotionError", "OutOfMemoryError", "LimitExceeded"})
OWN_ERROR_TYPE = N_("an exception of a class of its own")


def cell_name(label: str) -> str:
    """``cell answer-add`` for a grade id, ``cell 8`` as it is for a numbered cell."""
    return label if label.startswith("cell ") else f"cell {label}"


def shown_error_type(error_type: str) -> str:
    return error_type if error_type in KNOWN_ERROR_TYPES else OWN_ERROR_TYPE


class SubmissionError(Exception):
    """The student's code raised while a check called it; carries only the student's side of the story: the
    error's type and ``where`` it was raised (``message`` only for trusted notebooks run in-process)."""

    def __init__(self, name: str, error_type: str, message: str = "", where: str = "", builtin_type: str = ""):
        self.name, self.error_type, self.message, self.where = name, error_type, message, where
        # the nearest built-in exception class the error's class derives from (``ValueError`` for a student's
        # ``class BadInput(ValueError)``): what an nbgrader test cell's ``except ValueError:`` catches
        self.builtin_type = builtin_type if builtin_type in KNOWN_ERROR_TYPES else ""
        super().__init__(student_error_text(name, error_type, message, where))


class MissingName(SubmissionError):
    """The notebook does not define a name a check needs."""

    def __init__(self, name: str):
        super().__init__(name, "NameError", "")
        self.args = (_("your notebook does not define `{name}` at the top level", name=name),)


def student_error_text(name: str, error_type: str, message: str = "", where: str = "") -> str:
    if error_type == "NotImplementedError" and not message:
        if where:
            return _("`{name}` is not implemented yet (it still raises NotImplementedError, {where})", name=name,
                     where=where)
        return _("`{name}` is not implemented yet (it still raises NotImplementedError)", name=name)
    shown = shown_error_type(error_type)
    error = _(shown) if shown == OWN_ERROR_TYPE else shown
    detail = f": {message}" if message else ""
    text = _("`{name}` raised {error}", name=name, error=error) + detail
    return text + (f" ({where})" if where else "")


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
        return _clip(str(exc)) or _(GENERIC_FAILURE)
    if isinstance(exc, NotImplementedError):
        return _("part of the submission is not implemented yet (it still raises NotImplementedError)")
    return _clip(_("the check could not use your result ({error})", error=type(exc).__name__))
