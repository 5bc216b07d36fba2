"""Hidden checks, week 4: the sampling distribution, the exact random stream, generation, the key/value cache.

The stream is specified in the notebook and reproduced here with this file's own torch.Generator: per new token one
u = torch.rand((), generator, float64), and token = #{i : cdf_i <= u * cdf_last} of the filtered distribution
(oracle.filter_probs, written independently of the notebook). Generation is judged step by step: the logits the
submission reports for step i must equal the oracle's forward pass (PyTorch layers, float64) on the tokens before
it, cropped to block_size, and token i must be the stream's draw from those logits.
"""

import importlib.util
import random
from pathlib import Path

import pytest
import torch

from autograder.i18n import _

_spec = importlib.util.spec_from_file_location("week04_oracle", Path(__file__).with_name("oracle.py"))
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)
DEVICES = oracle.DEVICES


def _generator(submission, seed: int):
    g = submission.make_object("torch.Generator")
    g.manual_seed(seed)
    return g


def _probs(value, V: int) -> torch.Tensor:
    assert type(value) is torch.Tensor, _("filter_probs should return a torch.Tensor")
    assert tuple(value.shape) == (V,) and value.dtype == torch.float64 and value.device.type == "cpu", \
        _("filter_probs should return a float64 CPU tensor of shape (V,)")
    assert bool(torch.isfinite(value).all()), _("filter_probs returned inf or nan")
    return value


def _same_distribution(actual: torch.Tensor, expected: torch.Tensor) -> bool:
    """Equal values and exactly the same tokens at probability 0."""
    return torch.equal(actual == 0, expected == 0) and torch.allclose(actual, expected, rtol=1e-9, atol=1e-12)


def _logits(g, V: int, scale: float = 2.0) -> torch.Tensor:
    return oracle.randn(g, V, scale=scale)


# --- the distribution -------------------------------------------------------------------------------------------------

@pytest.mark.points(1)
def test_filter_probs_temperature(submission):
    """filter_probs without filtering is softmax(logits / temperature) in float64."""
    g = torch.Generator().manual_seed(410)
    for V, temperature, dtype in ((10, 1.0, torch.float64), (10, 0.3, torch.float64), (27, 2.5, torch.float32),
                                  (5, 0.05, torch.float64)):
        z = _logits(g, V).to(dtype)
        probs = _probs(submission.filter_probs(z, temperature, None, None), V)
        assert _same_distribution(probs, oracle.filter_probs(z, temperature, None, None)), \
            _("filter_probs with temperature {temperature} should be softmax(logits / temperature), computed in "
              "float64", temperature=temperature)


@pytest.mark.points(1)
def test_filter_probs_top_k_keeps_ties(submission):
    """top_k keeps every token whose logit is at least the k-th largest (ties kept), after the temperature."""
    g = torch.Generator().manual_seed(411)
    cases = [(torch.tensor([1.0, 3.0, 3.0, 0.0, 3.0, 2.0]), 2, 1.0),   # three tokens tie at the top
             (torch.tensor([2.0, 1.0, 1.0, 0.0, 1.0]), 2, 0.7),         # ties with the 2nd largest
             (torch.tensor([0.5, 0.5, 0.5]), 1, 1.0)]                   # all tied
    cases += [(_logits(g, 12), k, t) for k, t in ((1, 1.0), (3, 0.8), (7, 1.6), (12, 1.0), (40, 1.0))]
    for z, k, temperature in cases:
        probs = _probs(submission.filter_probs(z.double(), temperature, k, None), z.numel())
        assert _same_distribution(probs, oracle.filter_probs(z, temperature, k, None)), \
            _("filter_probs with top_k={k} (V={z_numel}) keeps the wrong tokens or weights: keep the tokens whose "
              "logit is at least the k-th largest, ties included, then softmax (k >= V keeps all)",
              k=k, z_numel=z.numel())


@pytest.mark.points(1)
def test_filter_probs_top_p_keeps_the_crossing_token(submission):
    """top_p keeps the most likely tokens until their mass reaches top_p, the crossing token included; after top_k."""
    g = torch.Generator().manual_seed(412)
    cases = [(torch.log(torch.tensor([0.1, 0.5, 0.15, 0.25])), 1.0, None, 0.7),
             (torch.log(torch.tensor([0.6, 0.1, 0.3])), 1.0, None, 0.5),    # only the top token
             (torch.log(torch.tensor([0.05, 0.3, 0.35, 0.3])), 1.0, None, 0.66)]
    cases += [(_logits(g, 15), t, k, p) for t, k, p in ((1.0, None, 0.3), (1.0, None, 0.9), (0.7, None, 0.75),
                                                        (1.3, 8, 0.8), (1.0, 3, 0.99), (1.0, None, 1.0))]
    for z, temperature, k, p in cases:
        probs = _probs(submission.filter_probs(z.double(), temperature, k, p), z.numel())
        assert _same_distribution(probs, oracle.filter_probs(z, temperature, k, p)), \
            (_("filter_probs with top_p={p} keeps the wrong tokens: ", p=p) if k is None else
             _("filter_probs with top_p={p} after top_k={k} keeps the wrong tokens: ", p=p, k=k)) + \
            _("sort by probability, keep a token when the mass before it is below top_p (so the token that crosses "
              "top_p is kept), zero the others and renormalise")


# --- the stream ------------------------------------------------------------------------------------------------------

SAMPLING = [(1.0, None, None), (0.6, None, None), (1.0, 4, None), (1.4, None, 0.8), (0.9, 6, 0.9)]


@pytest.mark.points(1)
def test_sample_next_follows_the_specified_stream(submission):
    """sample_next draws exactly one u = torch.rand((), float64) per token and returns #{cdf <= u * cdf[-1]}."""
    g = torch.Generator().manual_seed(413)
    for temperature, k, p in SAMPLING:
        z = _logits(g, 9)
        probs = oracle.filter_probs(z, temperature, k, p)
        for seed in random.Random(413).sample(range(10_000), 12):
            sub_g = _generator(submission, seed)
            drawn = [submission.sample_next(z, temperature, k, p, sub_g) for _ in range(3)]
            assert all(type(t) is int for t in drawn), _("sample_next should return a Python int")
            ref_g = torch.Generator().manual_seed(seed)
            assert drawn == [oracle.draw(probs, ref_g) for _ in range(3)], \
                _("sample_next does not follow the specified stream: per call exactly one u = torch.rand((), " \
                "generator=generator, dtype=torch.float64), then the number of cdf entries <= u * cdf[-1] " \
                "(three successive calls with one generator were checked)")


# --- generation ------------------------------------------------------------------------------------------------------

def _check_generation(submission, name: str, device: str, params: dict, prompt: list[int], n: int,
                      temperature: float, top_k, top_p, seed: int) -> None:
    """Call generate or generate_with_cache and judge every step against the oracle and the stream."""
    V, block_size = params["tok_emb"].shape[0], params["pos_emb"].shape[0]
    result = getattr(submission, name)(oracle.send(params, device), prompt, n, temperature, top_k, top_p,
                                       _generator(submission, seed))
    assert isinstance(result, (tuple, list)) and len(result) == 2, _("{name} should return a pair (tokens, logits)",
                                                                     name=name)
    tokens, logits = result
    assert isinstance(tokens, list) and len(tokens) == len(prompt) + n, \
        _("{name} should return the prompt followed by the n new tokens, as a list", name=name)
    assert all(type(t) is int and 0 <= t < V for t in tokens), _("{name}: tokens should be Python ints in [0, V)",
                                                                 name=name)
    assert tokens[:len(prompt)] == prompt, _("{name}: the returned tokens should start with the prompt", name=name)
    assert type(logits) is torch.Tensor and tuple(logits.shape) == (n, V), \
        _("{name} should return the logits of every step as a tensor of shape (n, V)", name=name)
    model = oracle.OracleGPT(params)
    ref_g = torch.Generator().manual_seed(seed)
    for i in range(n):
        context = torch.tensor([tokens[:len(prompt) + i][-block_size:]])
        assert oracle.close(logits[i], model.logits(context)[0, -1], device), \
            (_("{name}: the logits of step {i} are not those of the model on the tokens before it (cropped to the "
               "last block_size tokens)", name=name, i=i) if len(prompt) + i > block_size else
             _("{name}: the logits of step {i} are not those of the model on the tokens before it", name=name, i=i))
        expected = oracle.draw(oracle.filter_probs(logits[i], temperature, top_k, top_p), ref_g)
        assert tokens[len(prompt) + i] == expected, \
            _("{name}: new token {i} is not the draw of the specified stream from that step's logits (one "
              "sample_next per token, with the generator you are given)", name=name, i=i)


GENERATION_CASES = [([0], 7, 1.0, None, None, 3), ([0, 4, 2], 4, 0.8, 4, None, 4), ([5], 6, 1.3, None, 0.85, 5)]


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_generate_follows_model_and_stream(submission, device):
    """generate appends n tokens drawn from the model's last-position logits, cropping the context to block_size."""
    g = torch.Generator().manual_seed(414)
    params = oracle.random_gpt(g, 11, 12, 3, 2, 8)
    for prompt, n, temperature, k, p, seed in GENERATION_CASES + [([0, 1, 2], 9, 0.9, 5, None, 6)]:  # 12 > 8: crop
        _check_generation(submission, "generate", device, params, prompt, n, temperature, k, p, seed)


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_gpt_logits_cached_matches_the_full_forward_pass(submission, device):
    """Feeding tokens in chunks through gpt_logits_cached gives the full pass's logits, keys and values, in order."""
    g = torch.Generator().manual_seed(415)
    B, T, V, E, h, N = 2, 9, 9, 12, 3, 2
    params = oracle.random_gpt(g, V, E, h, N, 10)
    tokens = torch.randint(0, V, (B, T), generator=g)
    model = oracle.OracleGPT(params)
    full = model.logits(tokens)
    sent = oracle.send(params, device)
    cache = None
    for a, b in ((0, 4), (4, 5), (5, 8), (8, 9)):
        result = submission.gpt_logits_cached(tokens[:, a:b].to(device), sent, cache)
        assert isinstance(result, (tuple, list)) and len(result) == 2, \
            _("gpt_logits_cached should return a pair (logits, cache)")
        logits, cache = result
        assert type(logits) is torch.Tensor and tuple(logits.shape) == (B, b - a, V), \
            _("gpt_logits_cached should return logits of shape (B, L, V) for L new tokens")
        assert isinstance(cache, (list, tuple)) and len(cache) == N, \
            _("the cache should be a list with one (k, v) pair per block")
        for pair in cache:
            assert isinstance(pair, (list, tuple)) and len(pair) == 2 and all(
                type(t) is torch.Tensor and tuple(t.shape) == (B, h, b, E // h) for t in pair), \
                _("each block's cache should be a pair (k, v) of tensors of shape (B, num_heads, S_past + L, d)")
        assert oracle.close(logits, full[:, a:b], device), \
            _("the logits of the tokens at positions {a}..{b_1}, fed after {a} cached positions, differ from "
              "gpt_logits on the whole sequence: embed them at their true positions and let query i attend to the "
              "keys 0..S_past + i", a=a, b_1=b - 1)
    for (k, v), (ref_k, ref_v) in zip(cache, model.keys_values(tokens), strict=True):
        assert oracle.close(k, ref_k, device) and oracle.close(v, ref_v, device), \
            _("the cached keys and values should be LN1(x) W_k^T + b_k and LN1(x) W_v^T + b_v after split_heads, " \
            "for the positions 0..S-1 in order (new ones appended after the old ones)")


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_generate_with_cache_follows_model_and_stream(submission, device):
    """generate_with_cache gives the full forward pass's logits at every step and the stream's tokens."""
    g = torch.Generator().manual_seed(416)
    params = oracle.random_gpt(g, 11, 12, 3, 2, 10)
    for prompt, n, temperature, k, p, seed in GENERATION_CASES + [([0, 7, 7, 1], 6, 1.0, 3, 0.9, 7)]:  # 10 = block
        _check_generation(submission, "generate_with_cache", device, params, prompt, n, temperature, k, p, seed)
