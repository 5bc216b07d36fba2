"""Trusted-side helpers for checks: watched calls and calls with every documented parameter changed.

``submission.watch("transition_probs")(counts, k)`` calls the submission like ``submission.transition_probs``
does, and returns a :class:`CallReport`: the value, whether the call changed each argument in place (the
runner compares each argument before and after the call: arguments cross the boundary as copies, so a plain
call cannot see this), and which of the functions the check declared forbidden for this answer it called
(``submission.watch("lstm_step", forbid=BUILT_IN_CELLS)``). The runner reports flags only; the verdict and
every word of the message are the check's (:meth:`CallReport.assert_unchanged`, :meth:`CallReport.assert_allowed`).

:func:`vary_each` lists keyword sets that change each documented parameter in turn (then all of them at once),
so a check can compare the submission with its oracle where a hard-coded hyperparameter would show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .feedback import SubmissionError

ORDINALS = ("1st", "2nd", "3rd")


def ordinal(index: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th`` ... for a 0-based position."""
    return ORDINALS[index] if index < len(ORDINALS) else f"{index + 1}th"


@dataclass(frozen=True)
class CallReport:
    """What a watched call returned and did: ``value``, ``mutated_args`` (one flag per positional argument),
    ``mutated_kwargs`` (one per keyword argument) and ``forbidden_calls`` (the forbidden names it called)."""

    name: str
    value: Any
    mutated_args: tuple[bool, ...] = ()
    mutated_kwargs: dict[str, bool] = field(default_factory=dict)
    forbidden_calls: tuple[str, ...] = ()

    @property
    def mutated(self) -> bool:
        return any(self.mutated_args) or any(self.mutated_kwargs.values())

    def changed(self, names: Sequence[str] = ()) -> list[str]:
        """The changed arguments in the check's words: ``counts`` when ``names`` names the positional ones,
        else ``its 1st argument``; keyword arguments by their keyword."""
        out = [f"`{names[i]}`" if i < len(names) else f"its {ordinal(i)} argument"
               for i, flag in enumerate(self.mutated_args) if flag]
        return out + [f"`{k}`" for k, flag in self.mutated_kwargs.items() if flag]

    def assert_unchanged(self, names: Sequence[str] = (), why: str = "") -> None:
        """Fail the check, in plain words, when the call changed any argument in place."""
        changed = self.changed(names)
        if changed:
            reason = why or "the docstring asks you to leave the inputs unchanged: work on a copy"
            raise AssertionError(f"`{self.name}` changed {' and '.join(changed)} in place; {reason}")

    def assert_allowed(self) -> None:
        """Fail the check, in plain words, when the call used a function the check forbade."""
        if self.forbidden_calls:
            used = " and ".join(self.forbidden_calls)
            raise AssertionError(f"`{self.name}` calls {used}, which this exercise asks you not to use")

    def assert_clean(self, names: Sequence[str] = ()) -> Any:
        """Both assertions; returns the value."""
        self.assert_allowed()
        self.assert_unchanged(names)
        return self.value


def read_report(name: str, raw: Any, n_args: int, kwargs: Sequence[str], forbid: Sequence[str],
                wrap: Any = None) -> CallReport:
    """A :class:`CallReport` from the runner's reply, trusting nothing in it: flags must be bools, one per
    argument sent, and forbidden names must be among those the check asked about (so no text the runner chose
    reaches a message)."""
    def bad() -> SubmissionError:
        return SubmissionError(name, "ProtocolError", "the watched call's report could not be read")

    if type(raw) is not dict or not {"value", "mutated", "mutated_kwargs", "forbidden"} <= raw.keys():
        raise bad()
    mutated, mutated_kw, forbidden = raw["mutated"], raw["mutated_kwargs"], raw["forbidden"]
    if (type(mutated) is not list or len(mutated) not in (0, n_args) or any(type(f) is not bool for f in mutated)
            or type(mutated_kw) is not dict or not set(mutated_kw) <= set(kwargs)
            or any(type(f) is not bool for f in mutated_kw.values())
            or type(forbidden) is not list or any(n not in forbid for n in forbidden)):
        raise bad()
    value = wrap(raw["value"]) if wrap is not None else raw["value"]
    return CallReport(name, value, tuple(mutated), dict(mutated_kw), tuple(dict.fromkeys(forbidden)))


def vary_each(defaults: dict[str, Any], others: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Keyword sets for an ignored-hyperparameter check: none at all (the function's own defaults, which must be
    the documented ``defaults``), each parameter of ``defaults`` set to its value in ``others`` alone (the rest at
    their defaults), then all of them changed at once. Each entry is ``(what changed, kwargs)``; ``what changed``
    is ``"nothing"`` for the first, then names the parameter (``"all parameters"`` for the last one).

    ``others`` must give every parameter a value different from its default: a documented parameter left out
    is exactly the hard-coded one the check would miss, so it is an error in the check.
    """
    missing = sorted(set(defaults) - set(others))
    extra = sorted(set(others) - set(defaults))
    same = sorted(k for k in defaults if k in others and _equal(others[k], defaults[k]))
    if missing or extra or same:
        raise ValueError(f"vary_each: no other value for {missing}, unknown {extra}, not changed {same}")
    variants = [("nothing", {})] + [(name, {**defaults, name: others[name]}) for name in defaults]
    if len(defaults) > 1:
        variants.append(("all parameters", dict(others)))
    return variants


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - arrays compare elementwise: treat as different
        return False
