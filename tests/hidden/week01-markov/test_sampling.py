"""Week 1 hidden checks: temperature, the next-token sampler and text generation."""

import functools
import importlib.util
import random
import string
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from autograder.harness.calls import vary_each
from autograder.i18n import _

NAMES_VOCAB = ["."] + list(string.ascii_lowercase)
P_TEST = np.array([0.05, 0.3, 0.0, 0.25, 0.4])  # distinct positive values and one zero


@functools.cache
def _census_names(filename, limit):
    folder = Path(importlib.util.find_spec("names").submodule_search_locations[0])
    lines = (folder / filename).read_text(encoding="ascii").splitlines()
    return tuple(line.split()[0].lower() for line in lines if line.strip())[:limit]


def _names_chain(filename, limit, k):
    """Bigram transition matrix of census names, built independently of the submission."""
    index = {t: i for i, t in enumerate(NAMES_VOCAB)}
    counts = np.zeros((27, 27))
    for name in _census_names(filename, limit):
        ids = [0, *(index[c] for c in name), 0]
        np.add.at(counts, (ids[:-1], ids[1:]), 1)
    counts += k
    return counts / counts.sum(axis=1, keepdims=True)


def _rng(submission, seed):
    return submission.make_object("numpy.random.default_rng", seed)


def _as_distribution(value, size):
    q = np.asarray(value)
    assert q.shape == (size,), _("apply_temperature should return a 1-D array of the same length as probs")
    assert np.issubdtype(q.dtype, np.floating), _("apply_temperature should return a float array")
    assert np.all(np.isfinite(q)), _("apply_temperature returned NaN or inf; compute it in log space")
    return q.astype(np.float64)


def _precision_hint(got, expected):
    """Names float32 arithmetic when a result misses a float64 tolerance but is right to about 1e-6."""
    if np.allclose(got, expected, rtol=1e-5, atol=1e-7):
        return ("apply_temperature is correct only to about 1e-6, the precision of float32: compute in float64 "
                "as the docstring asks")
    return ""


def _oracle_temperature(p, T):
    with np.errstate(divide="ignore"):
        logits = np.log(np.asarray(p, dtype=np.float64)) / T
    q = np.exp(logits - logits.max())
    return q / q.sum()


def _oracle_draws(p, seed, n, T):
    """The stream the docstring pins down: rng.choice(len(q), p=q) once per draw, q = apply_temperature(p, T)."""
    rng = np.random.default_rng(seed)
    q = _oracle_temperature(p, T)
    return [int(rng.choice(len(q), p=q)) for _i in range(n)]


def _oracle_generate(P, vocab, rng, max_len=20, temperature=1.0, sep=""):
    out, state = [], 0
    while len(out) < max_len:
        q = _oracle_temperature(P[state], temperature)
        state = int(rng.choice(len(q), p=q))
        if state == 0:
            break
        out.append(vocab[state])
    return sep.join(out)


def _as_index(value, size, what="sample_next"):
    assert isinstance(value, int | np.integer) and not isinstance(value, bool), _("{what} should return an int",
                                                                                  what=what)
    assert 0 <= int(value) < size, _("{what} returned an index outside range(len(probs))", what=what)
    return int(value)


# --- temperature ----------------------------------------------------------------------------------


@pytest.mark.points(1)
def test_temperature_one_unchanged(submission):
    """apply_temperature with T = 1 returns the distribution unchanged (normalised, for unnormalised weights)."""
    weights = np.array([3.0, 0.0, 1.0, 6.0, 0.5])  # the docstring allows non-negative weights that do not sum to 1
    for p in [P_TEST, _names_chain("dist.male.first", 500, 0.0)[1], weights]:
        q = _as_distribution(submission.apply_temperature(p, 1.0), len(p))
        assert np.allclose(q, p / p.sum(), rtol=1e-9, atol=1e-12), _("T = 1 should leave the distribution unchanged")


@pytest.mark.points(1)
def test_temperature_cold_is_argmax(submission):
    """apply_temperature with T = 1e-4 is one-hot at the most likely token."""
    for p in [P_TEST, np.array([0.2, 0.0, 0.21, 0.19, 0.4]), _names_chain("dist.male.first", 500, 0.0)[5]]:
        q = _as_distribution(submission.apply_temperature(p, 1e-4), len(p))
        expected = np.eye(len(p))[np.argmax(p)]
        assert np.allclose(q, expected, rtol=0, atol=1e-9), _(
            "as T -> 0 all the probability should go to the most likely token"
        )


@pytest.mark.points(1)
def test_temperature_hot_is_uniform(submission):
    """apply_temperature with a large T is nearly uniform over the possible tokens."""
    for p in [P_TEST, _names_chain("dist.female.first", 500, 0.0)[0]]:
        q = _as_distribution(submission.apply_temperature(p, 1e4), len(p))
        support = p > 0
        assert np.all(q[~support] == 0), _("tokens with probability 0 must keep probability 0 at any temperature")
        assert np.allclose(q[support], 1.0 / support.sum(), rtol=0, atol=1e-3), _(
            "a large T should give a nearly uniform distribution over the tokens with p > 0"
        )


@pytest.mark.points(1)
def test_temperature_formula(submission):
    """apply_temperature matches p^(1/T), renormalised, for moderate T."""
    p_names = _names_chain("dist.female.first", 800, 0.0)[1]
    for p, T in [(P_TEST, 0.5), (P_TEST, 2.0), (p_names, 0.7), (p_names, 1.6)]:
        q = _as_distribution(submission.apply_temperature(p, T), len(p))
        expected = p ** (1.0 / T)
        expected /= expected.sum()
        assert np.allclose(q, expected, rtol=1e-7, atol=1e-12), (
            _precision_hint(q, expected)
            or _("apply_temperature is off: raise each probability to the power 1/T, then renormalise")
        )


# --- sample_next ----------------------------------------------------------------------------------


@pytest.mark.points(1)
def test_sample_next_seeded(submission):
    """sample_next returns a Python int and uses the injected generator: same seed, same draws; other seed,
    other draws."""
    p = _names_chain("dist.female.first", 1000, 0.0)[1]
    runs = {}
    for seed in (11, 11, 12):
        rng = _rng(submission, seed)
        draws = [_as_index(submission.sample_next(p, rng), len(p)) for _i in range(40)]
        runs.setdefault(seed, []).append(draws)
    token = submission.sample_next(p, _rng(submission, 11))
    assert isinstance(token, int) and not isinstance(token, bool), _(
        "sample_next returned a {module}.{name}; the docstring asks for a Python int: convert the index with int(...)",
        module=type(token).__module__, name=type(token).__name__)
    assert runs[11][0] == runs[11][1], _("two generators with the same seed should give the same draws")
    assert runs[11][0] != runs[12][0], _("generators with different seeds should give different draws")
    assert len(set(runs[11][0])) > 1, _("successive draws from one generator should not all be the same")


def _fit_pvalue(counts, probs):
    """Chi-square goodness of fit of observed `counts` to `probs`.

    Cells with expected count < 5 are pooled into one cell, together with the next-rarest cells until the
    pool's expected count reaches 5. A draw of a token with probability 0 makes the fit impossible (p = 0).
    """
    n = counts.sum()
    possible = probs > 0
    if counts[~possible].sum() > 0:
        return 0.0
    obs, exp = counts[possible].astype(np.float64), n * probs[possible]
    order = np.argsort(exp)
    pooled = 0
    while pooled < len(order) and (exp[order[pooled]] < 5 or 0 < exp[order[:pooled]].sum() < 5):
        pooled += 1
    keep, pool = order[pooled:], order[:pooled]
    obs_cells, exp_cells = list(obs[keep]), list(exp[keep])
    if pooled:
        obs_cells.append(obs[pool].sum())
        exp_cells.append(exp[pool].sum())
    exp_cells = np.array(exp_cells) * (n / np.sum(exp_cells))  # exact totals for scipy's consistency check
    return float(stats.chisquare(obs_cells, exp_cells).pvalue)


# The 20,000 draws are made on the submission's side by the probe `draw_next` (probes.py): one call, not 20,000.
# Student code can replace a probe, so its draws come in blocks, one generator seed per block, and the trusted side
# repeats SPOT_CHECKS whole blocks, chosen at random after the probe has answered, with direct calls of sample_next.
# A probe that returns anything but sample_next's own draws is caught with probability 1 - (1 - f)^SPOT_CHECKS when
# it fakes a fraction f of the blocks; an honest submission passes whichever blocks are chosen.
DRAW_SEEDS = tuple(range(7_000, 8_000))  # 1,000 blocks of 20 draws; 200 direct calls re-check 10 of them
DRAWS_PER_SEED = 20
SPOT_CHECKS = 10


def _probe_draws(submission, probs, temperature=1.0):
    """sample_next's draws for every seed of DRAW_SEEDS, made by the probe and spot-checked by direct calls."""
    raw = submission.probe("draw_next", probs, list(DRAW_SEEDS), DRAWS_PER_SEED, temperature)
    assert isinstance(raw, list) and len(raw) == len(DRAW_SEEDS), _("sample_next's draws came back incomplete")
    blocks = []
    for block in raw:
        assert isinstance(block, list) and len(block) == DRAWS_PER_SEED, _("sample_next's draws came back incomplete")
        blocks.append([_as_index(value, len(probs)) for value in block])
    for i in random.SystemRandom().sample(range(len(DRAW_SEEDS)), SPOT_CHECKS):
        rng = _rng(submission, DRAW_SEEDS[i])
        direct = [_as_index(submission.sample_next(probs, rng, temperature), len(probs))
                  for _i in range(DRAWS_PER_SEED)]
        assert direct == blocks[i], _(
            "sample_next gave other draws when called one at a time than in a loop with the same seed: "
            "draw only from the generator you are given, and keep no state between calls"
        )
    return np.array([draw for block in blocks for draw in block])


@pytest.mark.points(2)
def test_sample_next_distribution(submission):
    """sample_next draws from the given row (chi-square test on 20,000 draws).

    The reference's draws at DRAW_SEEDS give p = 0.80; the pass mark is p > 1e-5. The p-value of a correct sampler
    whose draws differ from the reference's (another but valid use of the generator) is uniform on (0, 1), so such
    a sampler fails with probability 1e-5; the negative control (draws from another row) gets p < 1e-6.
    """
    chain = _names_chain("dist.female.first", 2000, 0.0)
    n = len(DRAW_SEEDS) * DRAWS_PER_SEED
    # Row 'a' of a real chain (it has a zero), with its four rarest tokens made rare enough to be pooled.
    right = chain[NAMES_VOCAB.index("a")].copy()
    rare = np.argsort(np.where(right > 0, right, np.inf))[:4]
    right[rare] = 1e-4
    right /= right.sum()
    # The wrong row: row 'e' restricted to the same support, so the control exercises the chi-square itself.
    wrong = chain[NAMES_VOCAB.index("e")] * (right > 0)
    wrong /= wrong.sum()

    # Negative control (trusted side only): draws from the wrong row must be rejected by this very test.
    control = np.bincount(np.random.default_rng(99).choice(27, size=n, p=wrong), minlength=27)
    assert _fit_pvalue(control, right) < 1e-6, _("internal check of the test failed; please report it")

    counts = np.bincount(_probe_draws(submission, right), minlength=27)
    assert counts[right == 0].sum() == 0, _("sample_next drew a token whose probability is 0")
    assert _fit_pvalue(counts, right) > 1e-5, _(
        "the frequencies of sample_next's draws do not match the probabilities it was given"
    )


@pytest.mark.points(1)
def test_sample_next_temperature(submission):
    """sample_next applies the temperature once: T = 1e-4 picks the most likely token; T = 0.6, 1.7 and the
    default 1 give exactly the draws rng.choice(len(q), p=q) with q = apply_temperature(probs, T)."""
    rng = _rng(submission, 5)
    for p in [P_TEST, _names_chain("dist.male.first", 500, 0.0)[0]]:
        draws = {_as_index(submission.sample_next(p, rng, 1e-4), len(p)) for _i in range(40)}
        assert draws == {int(np.argmax(p))}, _("with T = 1e-4 sample_next should always return the most likely token")
    p = _names_chain("dist.female.first", 1000, 0.0)[0]
    for seed, T in [(31, 0.6), (32, 1.7), (33, None)]:  # None: the temperature left at its default, 1
        rng = _rng(submission, seed)
        got = [_as_index(submission.sample_next(p, rng) if T is None else submission.sample_next(p, rng, T), len(p))
               for _i in range(60)]
        if T is None:
            assert got == _oracle_draws(p, seed, 60, 1.0), _(
                "with the temperature left at its default (1) sample_next should draw from probs itself"
            )
            continue
        assert got == _oracle_draws(p, seed, 60, T), _(
            "with a moderate temperature sample_next does not give the draws the docstring describes: apply the "
            "temperature exactly once (q = apply_temperature(probs, temperature)), then call rng.choice(len(q), "
            "p=q) once per draw"
        )


# --- generate -------------------------------------------------------------------------------------


def _chain(vocab, path, loop_to=None):
    """A deterministic chain: '.' -> path[0] -> ... -> path[-1] -> '.' (or -> loop_to)."""
    P = np.zeros((len(vocab), len(vocab)))
    ids = [0, *(vocab.index(t) for t in path)]
    for a, b in zip(ids[:-1], ids[1:], strict=True):
        P[a, b] = 1.0
    P[ids[-1], vocab.index(loop_to) if loop_to else 0] = 1.0
    for row in P:
        if row.sum() == 0:
            row[:] = 1.0 / len(vocab)
    return P


def _as_text(value):
    assert isinstance(value, str), _("generate should return a string")
    return value


@pytest.mark.points(2)
def test_generate_format(submission):
    """generate starts after '.', follows the chain, stops at '.' or max_len, joins with sep."""
    vocab = [".", "a", "d", "o", "r"]
    got = _as_text(submission.generate(_chain(vocab, "road"), vocab, _rng(submission, 0)))
    assert "." not in got, _("the boundary token '.' should not appear in the generated text")
    assert got == "road", _("generate should start in state '.', move to each sampled token, and stop when '.' is "
                            "drawn")

    words = [".", "better", "is", "never", "now", "than"]
    P = _chain(words, ["now", "is", "better", "than", "never"])
    got = _as_text(submission.generate(P, words, _rng(submission, 1), max_len=20, temperature=1.0, sep=" "))
    assert got == "now is better than never", _("generate should join the tokens with sep")

    vocab = [".", "a", "b"]
    P = _chain(vocab, "ab", loop_to="a")  # . -> a -> b -> a -> b ...
    for max_len in (1, 4, 7):
        got = _as_text(submission.generate(P, vocab, _rng(submission, 2), max_len=max_len))
        assert got == "abababa"[:max_len], _("generate should stop after exactly max_len tokens")

    P = _names_chain("dist.female.first", 1500, 0.5)
    rng = _rng(submission, 3)
    for _i in range(40):
        got = _as_text(submission.generate(P, NAMES_VOCAB, rng, max_len=12))
        assert len(got) <= 12, _("generate produced more than max_len tokens")
        assert set(got) <= set(string.ascii_lowercase), _("generated names should contain only tokens of the "
                                                          "vocabulary")


@pytest.mark.points(1)
def test_generate_seeded(submission):
    """generate is reproducible: same seed, same names; other seed, other names."""
    P = _names_chain("dist.female.first", 1500, 0.5)
    runs = []
    for seed in (21, 21, 22):
        rng = _rng(submission, seed)
        runs.append([_as_text(submission.generate(P, NAMES_VOCAB, rng)) for _i in range(10)])
    assert runs[0] == runs[1], _("the same seed should give the same generated names")
    assert runs[0] != runs[2], _("different seeds should give different generated names")


GENERATE_DEFAULTS = {"max_len": 20, "temperature": 1.0, "sep": ""}
GENERATE_OTHERS = {"max_len": 6, "temperature": 0.7, "sep": "-"}


@pytest.mark.points(1)
def test_generate_temperature(submission):
    """generate passes the temperature on (T = 1e-4 gives the greedy path) and uses every parameter it is given.

    Called with the defaults, then each of max_len, temperature and sep set in turn to a value other than its
    default (vary_each), and the
    names must equal the stream the docstring pins down (sample_next(P[state], rng, temperature) per step), so a
    parameter that is ignored, or a temperature applied twice, changes the names.
    """
    P = _names_chain("dist.male.first", 1219, 0.0)
    for max_len in (2, 10):
        greedy, state = [], 0
        while len(greedy) < max_len:
            state = int(np.argmax(P[state]))
            if state == 0:
                break
            greedy.append(NAMES_VOCAB[state])
        got = _as_text(submission.generate(P, NAMES_VOCAB, _rng(submission, 4), max_len=max_len, temperature=1e-4))
        assert got == "".join(greedy), _("with T = 1e-4 generate should always follow the most likely next token")
    P = _names_chain("dist.female.first", 1500, 0.5)
    for changed, kwargs in vary_each(GENERATE_DEFAULTS, GENERATE_OTHERS):
        for seed in (41, 42, 43):
            rng = _rng(submission, seed)
            got = [_as_text(submission.generate(P, NAMES_VOCAB, rng, **kwargs)) for _i in range(5)]
            reference = np.random.default_rng(seed)
            expected = []
            for _i in range(5):
                expected.append(_oracle_generate(P, NAMES_VOCAB, reference, **kwargs))
            assert got == expected, (
                "generate does not give the names the docstring describes "
                + ("with every argument left at its default (max_len=20, temperature=1.0, sep='')"
                   if changed == "nothing" else f"when {changed} differs from its default")
                + ": use every argument, and draw each token with sample_next(P[state], rng, temperature)"
            )


@pytest.mark.points(1)
def test_generate_bigrams_possible(submission):
    """Every bigram in generated names has nonzero probability under the chain."""
    P = _names_chain("dist.male.first", 300, 0.0)  # sparse: many impossible bigrams
    rng = _rng(submission, 8)
    max_len = 15
    for T in (1.0, 0.7):
        for _i in range(100):
            name = _as_text(submission.generate(P, NAMES_VOCAB, rng, max_len=max_len, temperature=T))
            assert set(name) <= set(string.ascii_lowercase), _(
                "generated names should contain only tokens of the vocabulary, without '.'"
            )
            ids = [0, *(NAMES_VOCAB.index(c) for c in name)]
            if len(name) < max_len:
                ids.append(0)
            assert all(P[a, b] > 0 for a, b in zip(ids[:-1], ids[1:], strict=True)), _(
                "a generated name contains a transition that has probability 0 under the chain"
            )
