"""Week 1 hidden checks: the bigram count matrix and add-k transition probabilities."""

import functools
import importlib.util
import string
from pathlib import Path

import numpy as np
import pytest

from autograder.i18n import _

NAMES_VOCAB = ["."] + list(string.ascii_lowercase)


@functools.cache
def _census_names(filename, limit):
    folder = Path(importlib.util.find_spec("names").submodule_search_locations[0])
    lines = (folder / filename).read_text(encoding="ascii").splitlines()
    return tuple(line.split()[0].lower() for line in lines if line.strip())[:limit]


def _oracle_counts(sequences, vocab):
    """Independent oracle: np.add.at over all (previous, next) index pairs of the padded sequences."""
    index = {t: i for i, t in enumerate(vocab)}
    prev, nxt = [], []
    for seq in sequences:
        ids = [0, *(index[t] for t in seq), 0]
        prev += ids[:-1]
        nxt += ids[1:]
    counts = np.zeros((len(vocab), len(vocab)), dtype=np.int64)
    np.add.at(counts, (np.array(prev), np.array(nxt)), 1)
    return counts


def _as_count_matrix(value, size):
    counts = np.asarray(value)
    assert counts.shape == (size, size), _("count_bigrams should return a (V, V) array with V = len(vocab)")
    assert np.issubdtype(counts.dtype, np.integer), _("count_bigrams should return an integer array")
    return counts


@pytest.mark.points(2)
def test_count_bigrams_exact(submission):
    """count_bigrams gives exact counts on small texts, with '.' around every sequence."""
    cases = [
        (["abba", "b", "cab", "a"], [".", "a", "b", "c"]),
        (["abba", "b"], [".", "a", "b", "c", "d"]),  # unused tokens give zero rows and columns
        ([["to", "be", "or"], ["not", "to", "be"]], [".", "be", "not", "or", "to"]),
    ]
    for sequences, vocab in cases:
        got = _as_count_matrix(submission.count_bigrams(sequences, vocab), len(vocab))
        expected = _oracle_counts(sequences, vocab)
        assert got.sum() == expected.sum(), _(
            "the counts have the wrong total: each sequence of L tokens gives L + 1 bigrams "
            "once padded with '.' at both ends"
        )
        assert np.array_equal(got[0], expected[0]), _("row '.' (first tokens of the sequences) is off")
        assert np.array_equal(got[:, 0], expected[:, 0]), _("column '.' (last tokens of the sequences) is off")
        assert np.array_equal(got, expected), _("some bigram counts are off: rows are the current token, columns the "
                                                "next")


@pytest.mark.points(1)
def test_count_bigrams_names(submission):
    """count_bigrams is exact on 1,000 census names."""
    names = list(_census_names("dist.female.first", 1000))
    got = _as_count_matrix(submission.count_bigrams(names, NAMES_VOCAB), len(NAMES_VOCAB))
    expected = _oracle_counts(names, NAMES_VOCAB)
    assert np.array_equal(got, expected), _("the bigram counts on real names are off")


def _random_counts(seed, shape=(6, 6), zero_rows=()):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 6, size=shape)
    counts[rng.random(shape) < 0.3] = 0
    counts[:, 0] += 1  # no zero rows unless asked for
    for r in zero_rows:
        counts[r] = 0
    return counts


def _precision_hint(got, expected, what):
    """The message for a result that misses a float64 tolerance: it names float32 arithmetic when the result is
    right to float32 precision (about 1e-6 relative), which no formula mistake achieves on these inputs."""
    if np.allclose(got, expected, rtol=1e-5, atol=1e-7):
        return _("{what}: correct only to about 1e-6, the precision of float32: compute in float64 "
                 "(np.asarray(counts, dtype=np.float64))", what=what)
    return ""


def _as_prob_matrix(value, shape):
    probs = np.asarray(value)
    assert probs.shape == shape, _("transition_probs should return an array of the same shape as counts")
    assert np.issubdtype(probs.dtype, np.floating), _("transition_probs should return a float array")
    assert np.all(np.isfinite(probs)), _("transition_probs returned NaN or inf")
    return probs.astype(np.float64)


@pytest.mark.points(1)
def test_rows_sum_to_one(submission):
    """Each row of transition_probs is a probability distribution."""
    for seed, k in [(1, 0.0), (2, 0.5), (3, 2.0)]:
        counts = _random_counts(seed, shape=(7, 7))
        probs = _as_prob_matrix(submission.transition_probs(counts, k), counts.shape)
        assert np.all(probs >= 0), _("probabilities cannot be negative")
        sums = probs.sum(axis=1)
        assert np.allclose(sums, 1.0, rtol=0, atol=1e-9), (
            _precision_hint(sums, np.ones_like(sums), "the row sums of transition_probs")
            or _("every row should sum to 1 (rows are the current token)")
        )


@pytest.mark.points(1)
def test_mle_probabilities(submission):
    """With k = 0 (the default), transition_probs divides each row by its total, whatever that total is."""
    counts = _random_counts(4, shape=(8, 8))
    counts[3] = 0
    counts[3, 5] = 1  # a token seen once: its row total is exactly 1
    expected = counts / counts.sum(axis=1, keepdims=True)
    probs = _as_prob_matrix(submission.transition_probs(counts), counts.shape)  # k left at its default, 0
    assert np.allclose(probs, expected, rtol=1e-9, atol=1e-12), (
        _precision_hint(probs, expected, "transition_probs")
        or _("with k = 0 (its default) each count should be divided by the total of its row, whatever that total")
    )
    # Row-normalising is scale-free: weights that are fractions of a count (every row total below 1) give the
    # same probabilities.
    probs = _as_prob_matrix(submission.transition_probs(counts / counts.sum(), 0.0), counts.shape)
    assert np.allclose(probs, expected, rtol=1e-9, atol=1e-12), _(
        "with fractional counts (rows that total less than 1) each row should still be divided by its total; "
        "only a row whose total is 0 becomes uniform"
    )


@pytest.mark.points(2)
def test_add_k_smoothing(submission):
    """Add-k smoothing matches (N + k) / (row total + kV), leaves no zeros and leaves `counts` unchanged.

    The counts are also sent as a float array (as a student's own smoothed counts would be), where `counts += k`
    would change the caller's array: the call is watched, and the runner reports whether `counts` changed.
    """
    for seed, k, dtype in [(5, 1.0, np.int64), (6, 0.05, np.float64), (7, 3.5, np.float64)]:
        counts = _random_counts(seed, shape=(6, 9), zero_rows=(2,)).astype(dtype)
        V = counts.shape[1]
        expected = (counts + k) / (counts.sum(axis=1, keepdims=True) + k * V)   # before the call may change counts
        call = submission.watch("transition_probs")(counts, k)
        call.assert_unchanged(["counts", "k"], "the docstring says `counts` itself is not modified: "
                                               "add k to a copy (counts + k), not in place (counts += k)")
        probs = _as_prob_matrix(call.value, counts.shape)
        assert np.all(probs > 0), _("with k > 0 no probability should be zero")
        assert np.allclose(probs, expected, rtol=1e-9, atol=1e-12), (
            _precision_hint(probs, expected, "transition_probs")
            or _("add-k smoothed probabilities are off: add k to every count of the row before normalising it")
        )


@pytest.mark.points(1)
def test_zero_row_uniform(submission):
    """With k = 0, a row of zero counts becomes the uniform distribution."""
    counts = _random_counts(8, shape=(5, 5), zero_rows=(1, 4))
    probs = _as_prob_matrix(submission.transition_probs(counts, 0.0), counts.shape)
    assert np.allclose(probs[[1, 4]], 1.0 / 5, rtol=0, atol=1e-12), (
        _precision_hint(probs[[1, 4]], np.full((2, 5), 1.0 / 5), "transition_probs")
        or _("a row whose counts are all zero should be uniform (1/V everywhere) when k = 0")
    )
    rest = [0, 2, 3]
    expected = counts[rest] / counts[rest].sum(axis=1, keepdims=True)
    assert np.allclose(probs[rest], expected, rtol=1e-9, atol=1e-12), _(
        "rows with counts should still be divided by their totals"
    )
