"""Week 1 hidden checks: tokenizers, vocabulary and n-gram counts."""

import re
import string
from collections import Counter

import numpy as np
import pytest

from autograder.i18n import _

LETTERS = set(string.ascii_lowercase)


def _as_str_list(value, what):
    assert isinstance(value, list | tuple), _("{what} should return a list", what=what)
    items = list(value)
    assert all(isinstance(t, str) for t in items), _("{what} should return a list of strings", what=what)
    return items


@pytest.mark.points(1)
def test_tokenize_chars(submission):
    """tokenize_chars lowercases and keeps exactly the letters a-z."""
    texts = ["Zoë O'Brien-Smith 3rd\tJR.", "QUIXOTE", "  x-y_z  ", "", "4 2 0 !?", "Straße über Ålesund"]
    for text in texts:
        got = _as_str_list(submission.tokenize_chars(text), "tokenize_chars")
        expected = [c for c in text.lower() if c in LETTERS]
        assert all(len(t) == 1 for t in got), _("tokenize_chars should return one-character strings")
        assert got == expected, _(
            "tokenize_chars keeps the wrong characters or changes their order: lowercase first, "
            "then keep only the 26 letters a-z (drop spaces, digits, punctuation and accented letters)"
        )


@pytest.mark.points(1)
def test_tokenize_words(submission):
    """tokenize_words lowercases and splits on everything except letters and apostrophes."""
    texts = [
        "It's   the END--of the world (as we know it)... isn't it?",
        "Errors should never pass silently.\nUnless explicitly silenced.",
        "rock'n'roll, 1999: O'Neil & d'Arcy",
        "",
        "123 --- !!!",
    ]
    for text in texts:
        got = _as_str_list(submission.tokenize_words(text), "tokenize_words")
        expected = re.findall(r"[a-z']+", text.lower())
        assert got == expected, _(
            "tokenize_words gives the wrong words: lowercase first, then return the maximal runs of "
            "letters a-z and apostrophes, in order"
        )


@pytest.mark.points(1)
def test_build_vocab(submission):
    """build_vocab puts '.' first, once, then the sorted distinct tokens (also those that sort before '.')."""
    cases = [
        ["zed", "abe", "ed", "bea"],
        [["to", "be", "or"], ["not", "to", "be"], ["question"]],
        ["mississippi"],
        [["mr", ".", "smith"], ["."], ["a", "b"]],        # a data token equal to the boundary token
        ["o'neil", "d'arcy", "x-ray"],                   # tokens that sort before '.' ("'" and "-")
    ]
    for sequences in cases:
        got = _as_str_list(submission.build_vocab(sequences), "build_vocab")
        expected = ["."] + sorted({t for s in sequences for t in s} - {"."})
        assert got[:1] == ["."], _("the boundary token '.' should be at index 0 of the vocabulary")
        assert len(got) == len(set(got)), _("the vocabulary should not contain duplicates")
        assert set(got) == set(expected), _("the vocabulary should hold '.' plus every distinct token, nothing else")
        assert got == expected, _("after '.', the tokens should be in sorted order")


def _oracle_ngrams(tokens, n):
    return dict(Counter(tuple(tokens[i : i + n]) for i in range(max(len(tokens) - n + 1, 0))))


def _as_ngram_dict(value, n):
    assert isinstance(value, dict), _("count_ngrams should return a dict")
    out = {}
    for key, count in value.items():
        assert isinstance(key, tuple | list) and len(key) == n, _("count_ngrams keys should be tuples of n tokens")
        assert isinstance(count, int | np.integer) and not isinstance(count, bool), _(
            "count_ngrams values should be integer counts"
        )
        out[tuple(key)] = int(count)
    return out


@pytest.mark.points(2)
def test_count_ngrams(submission):
    """count_ngrams counts every window of n consecutive tokens."""
    words = ["the", "cat", "sat", "on", "the", "mat", "the", "cat", "ran"]
    cases = [
        (list("mississippi"), 1),
        (list("mississippi"), 2),
        (list("mississippi"), 3),
        (words, 2),
        (words, 4),
        (list("abc"), 3),
        (list("ab"), 3),
        ([], 2),
    ]
    for tokens, n in cases:
        got = _as_ngram_dict(submission.count_ngrams(tokens, n), n)
        expected = _oracle_ngrams(tokens, n)
        if len(tokens) < n:
            assert got == {}, _("a sequence shorter than n has no n-grams")
        assert sum(got.values()) == sum(expected.values()), _(
            "count_ngrams finds the wrong number of windows: a list of length L has L - n + 1 of them"
        )
        assert got == expected, _("some n-gram counts are off")
