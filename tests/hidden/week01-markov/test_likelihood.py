"""Week 1 hidden checks: negative log-likelihood and perplexity on held-out text."""

import functools
import importlib.util
import math
import string
from pathlib import Path

import numpy as np
import pytest

from autograder.i18n import _

NAMES_VOCAB = ["."] + list(string.ascii_lowercase)


@functools.cache
def _census_names(filename):
    folder = Path(importlib.util.find_spec("names").submodule_search_locations[0])
    lines = (folder / filename).read_text(encoding="ascii").splitlines()
    return tuple(line.split()[0].lower() for line in lines if line.strip())


def _oracle_nll(P, sequences, vocab):
    """Independent oracle: a plain loop over every predicted token, the end token included."""
    index = {t: i for i, t in enumerate(vocab)}
    total, count = 0.0, 0
    for seq in sequences:
        ids = [0, *(index[t] for t in seq), 0]
        for a, b in zip(ids[:-1], ids[1:], strict=True):
            total -= math.log(P[a, b])
            count += 1
    return total / count


def _small_case():
    """A dense random chain over 4 tokens + '.', and held-out sequences of varied lengths."""
    rng = np.random.default_rng(2026)
    vocab = [".", "a", "b", "c", "d"]
    P = rng.dirichlet(np.ones(5) * 0.8, size=5)
    sequences = ["".join(rng.choice(list("abcd"), size=L)) for L in [1, 2, 3, 5, 8, 13]]
    return P, sequences, vocab


def _words_case():
    vocab = [".", "better", "is", "never", "now", "than"]
    P = np.random.default_rng(7).dirichlet(np.ones(6), size=6)
    sequences = [["now", "is", "better", "than", "never"], ["never"], ["is", "is", "now"]]
    return P, sequences, vocab


def _names_case():
    """Add-1 bigram model of the female census names; held out: the male names not in the female list."""
    female = _census_names("dist.female.first")
    seen = set(female)
    male = [n for n in _census_names("dist.male.first") if n not in seen][:400]
    index = {t: i for i, t in enumerate(NAMES_VOCAB)}
    counts = np.ones((27, 27))
    for name in female:
        ids = [0, *(index[c] for c in name), 0]
        np.add.at(counts, (ids[:-1], ids[1:]), 1)
    return counts / counts.sum(axis=1, keepdims=True), male, NAMES_VOCAB


def _as_number(value, what):
    arr = np.asarray(value)
    assert arr.shape == (), _("{what} should return a single number", what=what)
    assert np.issubdtype(arr.dtype, np.number) and not np.issubdtype(arr.dtype, np.complexfloating), _("{what} "
                                                                                                       "should "
                                                                                                       "return a "
                                                                                                       "real number",
                                                                                                       what=what)
    number = float(arr)
    assert math.isfinite(number), _("{what} returned inf or NaN although every transition has probability > 0",
                                    what=what)
    return number


@pytest.mark.points(2)
def test_nll_heldout(submission):
    """nll is the mean negative log-likelihood in nats per predicted token, end token included (inf for P = 0)."""
    for P, sequences, vocab in [_small_case(), _words_case(), _names_case()]:
        got = _as_number(submission.nll(P, sequences, vocab), "nll")
        expected = _oracle_nll(P, sequences, vocab)
        assert got > 0, _("the negative log-likelihood of these sequences should be positive")
        assert math.isclose(got, expected, rel_tol=1e-6), _(
            "nll is off: average -ln P(next | previous) over every predicted token of every sequence, "
            "including the final '.' (natural log)"
        )
    P, sequences, vocab = _small_case()
    P = P.copy()
    P[1, 2] = 0.0  # 'a' -> 'b' impossible; the sequences below use it once
    P[1] /= P[1].sum()
    got = np.asarray(submission.nll(P, ["ab", "ca", "d"], vocab))
    assert got.shape == () and np.issubdtype(got.dtype, np.floating), _("nll should return a single float")
    assert float(got) == math.inf, _(
        "when a sequence uses a transition of probability 0, nll should return inf (the docstring says so): "
        "do not clip or skip zero probabilities"
    )


@pytest.mark.points(1)
def test_perplexity_heldout(submission):
    """perplexity equals exp of the mean negative log-likelihood."""
    for P, sequences, vocab in [_small_case(), _names_case()]:
        got = _as_number(submission.perplexity(P, sequences, vocab), "perplexity")
        expected = math.exp(_oracle_nll(P, sequences, vocab))
        assert got >= 1, _("a perplexity is never below 1")
        assert math.isclose(got, expected, rel_tol=1e-6), _(
            "perplexity is off: it is e raised to the mean negative log-likelihood per predicted token"
        )
