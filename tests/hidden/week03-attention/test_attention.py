"""Hidden checks, week 3: scaled dot-product attention, causal masks, attention entropy.

Oracles: F.scaled_dot_product_attention in float64 on the CPU (bool mask, True = may attend; is_causal=True is the
top-left aligned tril). The oracle's attention weights come from the same function with the identity matrix as
values: softmax(q k^T / sqrt(d)) @ I = the weights themselves.
"""

import importlib.util
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from autograder.i18n import _

_spec = importlib.util.spec_from_file_location("week03_compare", Path(__file__).with_name("compare.py"))
compare = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compare)
DEVICES, _dtype, _close, _randn = compare.DEVICES, compare.dtype_for, compare.close, compare.randn


def _random_mask(g, *shape):
    """Random bool mask (True = may attend) in which every query row keeps at least one key."""
    mask = torch.rand(*shape, generator=g) < 0.5
    keep = torch.randint(0, shape[-1], shape[:-1], generator=g)
    mask.scatter_(-1, keep.unsqueeze(-1), True)
    return mask


def _oracle(q, k, v, mask=None, is_causal=False):
    """(out, weights) from F.scaled_dot_product_attention, CPU float64."""
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal)
    eye = torch.eye(k.shape[-2], dtype=torch.float64).expand(*k.shape[:-2], -1, -1)
    weights = F.scaled_dot_product_attention(q, k, eye, attn_mask=mask, is_causal=is_causal)
    return out, weights


def _call_attention(submission, q, k, v, mask=None):
    call = submission.watch("attention")(q, k, v, mask)
    call.assert_unchanged(["q", "k", "v", "mask"], "attention should leave its inputs as they were: an in-place "
                          "operation on an argument (k.transpose_, masked_fill_) changes the caller's tensor; use "
                          "the out-of-place k.transpose(-2, -1)")
    result = call.value
    assert isinstance(result, (tuple, list)) and len(result) == 2, _("attention should return a pair (out, weights)")
    out, weights = result
    assert type(out) is torch.Tensor and type(weights) is torch.Tensor, _("attention should return two torch tensors")
    return out, weights


def _check_against_oracle(submission, q, k, v, mask, device, is_causal=False, what="attention"):
    dtype = _dtype(device)
    mask_dev = None if mask is None else mask.to(device)
    out, weights = _call_attention(submission, q.to(device, dtype), k.to(device, dtype), v.to(device, dtype), mask_dev)
    ref_out, ref_w = _oracle(q, k, v, None if is_causal else mask, is_causal)   # causal: the oracle's own mask
    assert tuple(out.shape) == tuple(ref_out.shape), _("{what}: out should have shape (..., L, d_v)", what=what)
    assert tuple(weights.shape) == tuple(ref_w.shape), _("{what}: weights should have shape (..., L, S)", what=what)
    assert out.dtype == dtype and weights.dtype == dtype, _("{what}: keep the dtype of the inputs", what=what)
    assert _close(weights, ref_w, device), _("{what}: the attention weights differ from softmax(q k^T / sqrt(d))",
                                             what=what)
    assert _close(out, ref_out, device), _("{what}: out differs from weights @ v", what=what)


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_attention_matches_sdpa(submission, device):
    """attention without a mask matches F.scaled_dot_product_attention (batched, L != S, d_v != d, and 2-D inputs)."""
    g = torch.Generator().manual_seed(30)
    q, k, v = _randn(g, 2, 3, 5, 8), _randn(g, 2, 3, 7, 8), _randn(g, 2, 3, 7, 6)
    _check_against_oracle(submission, q, k, v, None, device, what="batched (2, 3, L, d) inputs")
    q, k, v = _randn(g, 4, 3), _randn(g, 6, 3), _randn(g, 6, 2)
    _check_against_oracle(submission, q, k, v, None, device, what="plain (L, d) inputs")


@pytest.mark.points(3)
@pytest.mark.parametrize("device", DEVICES)
def test_attention_bool_mask_matches_sdpa(submission, device):
    """attention with a boolean mask (True = may attend) matches F.scaled_dot_product_attention."""
    g = torch.Generator().manual_seed(31)
    q, k, v = _randn(g, 2, 3, 5, 8), _randn(g, 2, 3, 7, 8), _randn(g, 2, 3, 7, 4)
    _check_against_oracle(submission, q, k, v, _random_mask(g, 5, 7), device,
                          what="with an (L, S) mask shared by all batch elements")
    _check_against_oracle(submission, q, k, v, _random_mask(g, 2, 1, 5, 7), device,
                          what="with a (B, 1, L, S) mask broadcast over heads")
    q, k, v = _randn(g, 6, 4), _randn(g, 6, 4), _randn(g, 6, 4)
    _check_against_oracle(submission, q, k, v, _random_mask(g, 6, 6), device,
                          what="with plain (L, d) inputs and a mask")


@pytest.mark.points(2)
def test_attention_weights_are_distributions(submission):
    """Attention weights are non-negative, rows sum to 1, and blocked entries are exactly 0."""
    g = torch.Generator().manual_seed(32)
    q, k, v = 3.0 * _randn(g, 4, 9, 16), 3.0 * _randn(g, 4, 11, 16), _randn(g, 4, 11, 5)
    mask = _random_mask(g, 4, 9, 11)
    _unused, weights = _call_attention(submission, q, k, v, mask)
    assert tuple(weights.shape) == (4, 9, 11), _("weights should have shape (..., L, S)")
    weights = weights.detach().to(torch.float64)
    assert not torch.isnan(weights).any(), _("the weights contain nan")
    assert (weights >= 0).all(), _("attention weights must be non-negative")
    assert torch.allclose(weights.sum(-1), torch.ones(4, 9, dtype=torch.float64), rtol=0, atol=1e-10), \
        _("each row of the weights (one query) must sum to 1 over the keys")
    assert (weights[~mask] == 0).all(), _("entries where the mask is False must get weight exactly 0")
    assert (weights[mask] > 0).all(), _("entries where the mask is True should get a positive weight")


@pytest.mark.points(2)
def test_attention_scales_by_sqrt_d(submission):
    """Scores are divided by sqrt(d), the query/key dimension (checked on hand-made inputs for several d)."""
    for d in (4, 16, 64):
        # one query, two keys, raw scores q k^T = [sqrt(d), 0]: the scaled scores are [1, 0] for every d
        q = torch.zeros(1, d, dtype=torch.float64)
        q[0, 0] = math.sqrt(d)
        k = torch.zeros(2, d, dtype=torch.float64)
        k[0, 0] = 1.0
        k[1, 1] = 1.0
        v = torch.eye(2, dtype=torch.float64)
        out, weights = _call_attention(submission, q, k, v)
        assert tuple(weights.shape) == (1, 2), _("weights should have shape (L, S)")
        expected = torch.softmax(torch.tensor([[1.0, 0.0]], dtype=torch.float64), dim=-1)
        assert torch.allclose(weights.detach().to(torch.float64), expected, rtol=1e-9, atol=1e-12), \
            _("with d = {d} the weights are not softmax(q k^T / sqrt(d)); check how you scale the scores", d=d)
        assert torch.allclose(out.detach().to(torch.float64), expected, rtol=1e-9, atol=1e-12), \
            _("with d = {d} and identity values, out should equal the weights", d=d)


def _call_causal_mask(submission, *args):
    m = submission.causal_mask(*args)
    assert type(m) is torch.Tensor, _("causal_mask should return a torch tensor")
    assert m.dtype == torch.bool, _("causal_mask should return a tensor of dtype torch.bool")
    return m


@pytest.mark.points(1)
def test_causal_mask_square(submission):
    """causal_mask(L) is an (L, L) bool lower triangle including the diagonal (True = may attend)."""
    for L in (1, 4, 7):
        m = _call_causal_mask(submission, L)
        assert tuple(m.shape) == (L, L), _("causal_mask(L) should have shape (L, L)")
        assert torch.equal(m.cpu(), torch.ones(L, L, dtype=torch.bool).tril()), \
            _("causal_mask({L}) is wrong: query i may attend to the keys 0..i, itself included", L=L)
    m = _call_causal_mask(submission, 5, None)
    assert torch.equal(m.cpu(), torch.ones(5, 5, dtype=torch.bool).tril()), \
        _("causal_mask(L, None) should equal causal_mask(L)")


@pytest.mark.points(1)
def test_causal_mask_rectangular(submission):
    """causal_mask(L, S) with L != S has shape (L, S) and is top-left aligned like torch.tril."""
    for L, S in ((2, 5), (5, 2), (3, 3), (1, 4), (4, 1)):
        m = _call_causal_mask(submission, L, S)
        assert tuple(m.shape) == (L, S), _("causal_mask(L, S) should have shape (L, S)")
        assert torch.equal(m.cpu(), torch.ones(L, S, dtype=torch.bool).tril()), \
            _("causal_mask({L}, {S}) is wrong: it should be top-left aligned (query i may attend to the keys j <= i)",
              L=L, S=S)


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_attention_causal_matches_sdpa(submission, device):
    """attention with your causal_mask equals F.scaled_dot_product_attention(is_causal=True), also for L != S."""
    g = torch.Generator().manual_seed(33)
    for L, S in ((6, 6), (4, 7), (7, 4)):
        q, k, v = _randn(g, 2, 2, L, 8), _randn(g, 2, 2, S, 8), _randn(g, 2, 2, S, 5)
        mask = _call_causal_mask(submission, L, S).cpu()
        assert tuple(mask.shape) == (L, S), _("causal_mask(L, S) should have shape (L, S)")
        _check_against_oracle(submission, q, k, v, mask, device, is_causal=True,
                              what=f"causal attention with L={L}, S={S}")


@pytest.mark.points(2)
def test_attention_entropy(submission):
    """attention_entropy gives the row entropies in nats, with 0 log 0 = 0 (no nan for blocked keys)."""
    g = torch.Generator().manual_seed(34)
    random_rows = torch.softmax(_randn(g, 2, 3, 6), dim=-1)
    random_rows[1, :, 4:] = 0.0                               # blocked keys: exact zeros
    random_rows[1] /= random_rows[1].sum(-1, keepdim=True)
    special = torch.tensor([[1.0, 0, 0, 0, 0, 0], [0, 0, 0.5, 0.5, 0, 0], [1 / 6] * 6], dtype=torch.float64)
    weights = torch.cat([random_rows, special[None]], dim=0)  # (3, 3, 6)
    h = submission.attention_entropy(weights)
    assert type(h) is torch.Tensor, _("attention_entropy should return a torch tensor")
    assert tuple(h.shape) == (3, 3), _("attention_entropy of (..., L, S) weights should have shape (..., L)")
    assert h.dtype == torch.float64, _("attention_entropy should keep the dtype of its input")
    assert not torch.isnan(h).any(), _("attention_entropy returned nan: use the convention 0 log 0 = 0")
    p = weights.reshape(-1, 6)
    expected = torch.tensor([-sum(x * math.log(x) for x in row.tolist() if x > 0) for row in p],
                            dtype=torch.float64).reshape(3, 3)
    assert torch.allclose(h, expected, rtol=1e-9, atol=1e-12), \
        _("attention_entropy is wrong: it should be -sum_j w_j log w_j (natural log) over the keys axis")
