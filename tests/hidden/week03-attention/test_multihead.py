"""Hidden checks, week 3: split/merge heads, multi-head attention, permutation equivariance.

Oracle: nn.MultiheadAttention(E, h, batch_first=True) in float64 on the CPU with the same in_proj/out_proj
weights copied in, per-head weights from average_attn_weights=False. Its bool attn_mask and key_padding_mask
mean True = NOT allowed, the opposite of the course's contract (True = may attend), so the oracle gets ~mask.
"""

import importlib.util
import math
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from autograder.i18n import _

_spec = importlib.util.spec_from_file_location("week03_compare", Path(__file__).with_name("compare.py"))
compare = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compare)
DEVICES, _dtype, _close, _randn = compare.DEVICES, compare.dtype_for, compare.close, compare.randn


def _params(g, E):
    """(in_proj_weight (3E, E), in_proj_bias (3E,), out_proj_weight (E, E), out_proj_bias (E,)), all non-trivial."""
    return (_randn(g, 3 * E, E) / math.sqrt(E), 0.5 * _randn(g, 3 * E),
            _randn(g, E, E) / math.sqrt(E), 0.5 * _randn(g, E))


def _torch_mha(params, E, num_heads, x_q, x_kv, keep=None, key_padding=None):
    """CPU float64 oracle. keep: (L, S) bool, True = may attend; key_padding: (B, S) bool, True = padded key."""
    mha = nn.MultiheadAttention(E, num_heads, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        mha.in_proj_weight.copy_(params[0])
        mha.in_proj_bias.copy_(params[1])
        mha.out_proj.weight.copy_(params[2])
        mha.out_proj.bias.copy_(params[3])
        out, weights = mha(x_q, x_kv, x_kv, attn_mask=None if keep is None else ~keep,
                           key_padding_mask=key_padding, need_weights=True, average_attn_weights=False)
    return out, weights


def _call_attention(submission, q, k, v):
    result = submission.attention(q, k, v)
    assert isinstance(result, (tuple, list)) and len(result) == 2, _("attention should return a pair (out, weights)")
    out, weights = result
    assert type(out) is torch.Tensor and type(weights) is torch.Tensor, _("attention should return two torch tensors")
    return out, weights


def _call_mha(submission, x_q, x_kv, params, num_heads, mask=None):
    result = submission.multi_head_attention(x_q, x_kv, *params, num_heads, mask)
    assert isinstance(result, (tuple, list)) and len(result) == 2, \
        _("multi_head_attention should return a pair (out, weights)")
    out, weights = result
    assert type(out) is torch.Tensor and type(weights) is torch.Tensor, \
        _("multi_head_attention should return two torch tensors")
    return out, weights


def _check_mha(submission, device, g, B, L, S, E, h, keep=None, key_padding=None, what=""):
    dtype = _dtype(device)
    params = _params(g, E)
    x_q = _randn(g, B, L, E)
    x_kv = x_q if S is None else _randn(g, B, S, E)
    S = L if S is None else S
    student_mask = None
    if keep is not None:
        student_mask = keep
    if key_padding is not None:
        allowed = ~key_padding[:, None, None, :]                       # (B, 1, 1, S), True = may attend
        student_mask = allowed if student_mask is None else student_mask & allowed
    dev = [t.to(device, dtype) for t in params]
    x_q_dev = x_q.to(device, dtype)
    x_kv_dev = x_q_dev if x_kv is x_q else x_kv.to(device, dtype)
    out, weights = _call_mha(submission, x_q_dev, x_kv_dev, dev, h,
                             None if student_mask is None else student_mask.to(device))
    ref_out, ref_w = _torch_mha(params, E, h, x_q, x_kv, keep, key_padding)
    assert tuple(out.shape) == (B, L, E), _("{what}: out should have shape (B, L, E)", what=what)
    assert tuple(weights.shape) == (B, h, L, S), _("{what}: weights should be per head, shape (B, num_heads, L, S)",
                                                   what=what)
    assert out.dtype == dtype and weights.dtype == dtype, _("{what}: keep the dtype of the inputs", what=what)
    assert _close(weights, ref_w, device), \
        _("{what}: the per-head weights differ from nn.MultiheadAttention (average_attn_weights=False); check the "
          "order of W_q, W_k, W_v in in_proj_weight, split_heads, the scale and the mask", what=what)
    assert _close(out, ref_out, device), \
        _("{what}: the per-head weights agree with nn.MultiheadAttention but the output does not; check merge_heads "
          "and the output projection", what=what)


@pytest.mark.points(1)
def test_split_heads_layout(submission):
    """split_heads maps (B, T, E) to (B, h, T, E/h) with head j holding the columns [j*d, (j+1)*d)."""
    for B, T, E, h in ((2, 3, 8, 4), (1, 5, 6, 2), (3, 2, 6, 1)):
        x = torch.arange(B * T * E, dtype=torch.float64).reshape(B, T, E)
        y = submission.split_heads(x, h)
        assert type(y) is torch.Tensor, _("split_heads should return a torch tensor")
        d = E // h
        assert tuple(y.shape) == (B, h, T, d), _("split_heads((B, T, E), h) should have shape (B, h, T, E // h)")
        for j in range(h):
            assert torch.equal(y[:, j], x[:, :, j * d:(j + 1) * d]), \
                _("split_heads: head j of token t should be the columns [j*d, (j+1)*d) of token t " \
                "(reshape to (B, T, h, d), then swap the T and h axes)")


@pytest.mark.points(1)
def test_merge_heads_layout(submission):
    """merge_heads maps (B, h, T, d) to (B, T, h*d) with head j filling the columns [j*d, (j+1)*d)."""
    for B, h, T, d in ((2, 4, 3, 2), (1, 2, 5, 3), (3, 1, 2, 6)):
        y = torch.arange(B * h * T * d, dtype=torch.float64).reshape(B, h, T, d)
        call = submission.watch("merge_heads")(y)
        call.assert_unchanged(["x"], "merge_heads should leave its input as it was: x.transpose_(1, 2) swaps the "
                              "axes of the caller's tensor; use the out-of-place x.transpose(1, 2)")
        z = call.value
        assert type(z) is torch.Tensor, _("merge_heads should return a torch tensor")
        assert tuple(z.shape) == (B, T, h * d), _("merge_heads((B, h, T, d)) should have shape (B, T, h * d)")
        for j in range(h):
            assert torch.equal(z[:, :, j * d:(j + 1) * d], y[:, j]), \
                _("merge_heads: the columns [j*d, (j+1)*d) of token t should be head j of token t " \
                "(swap the h and T axes back, then reshape)")


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_mha_self_attention_matches_torch(submission, device):
    """Self-attention without a mask matches nn.MultiheadAttention(batch_first=True): output and per-head weights."""
    g = torch.Generator().manual_seed(40)
    _check_mha(submission, device, g, B=2, L=5, S=None, E=12, h=3, what="self-attention, E=12, 3 heads")
    _check_mha(submission, device, g, B=3, L=4, S=None, E=8, h=2, what="self-attention, E=8, 2 heads")


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_mha_cross_attention_matches_torch(submission, device):
    """Cross-attention (x_q and x_kv of different lengths) matches nn.MultiheadAttention(batch_first=True)."""
    g = torch.Generator().manual_seed(41)
    _check_mha(submission, device, g, B=2, L=4, S=7, E=12, h=4, what="cross-attention L=4, S=7, 4 heads")
    _check_mha(submission, device, g, B=1, L=6, S=3, E=6, h=2, what="cross-attention L=6, S=3, 2 heads")


@pytest.mark.points(3)
@pytest.mark.parametrize("device", DEVICES)
def test_mha_masks_match_torch(submission, device):
    """Masked multi-head attention (causal (L, S) mask, per-batch key padding) matches nn.MultiheadAttention."""
    g = torch.Generator().manual_seed(42)
    T = 6
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    _check_mha(submission, device, g, B=2, L=T, S=None, E=12, h=3, keep=causal,
               what="causal self-attention with an (L, L) mask")
    padding = torch.zeros(2, 7, dtype=torch.bool)
    padding[1, 5:] = True                                   # batch element 1: the last two keys are padding
    _check_mha(submission, device, g, B=2, L=4, S=7, E=8, h=2, keep=torch.ones(4, 7, dtype=torch.bool).tril(),
               key_padding=padding, what="a (B, 1, L, S) mask combining a causal mask and key padding")


@pytest.mark.points(1)
def test_mha_identity_projections_running_mean(submission):
    """With W_q = W_k = 0, W_v = W_o = I, zero biases and a causal mask, output t is the mean of inputs 0..t."""
    B, T, E, h = 2, 5, 6, 3
    g = torch.Generator().manual_seed(43)
    x = _randn(g, B, T, E)
    in_w = torch.cat([torch.zeros(2 * E, E, dtype=torch.float64), torch.eye(E, dtype=torch.float64)])
    params = (in_w, torch.zeros(3 * E, dtype=torch.float64), torch.eye(E, dtype=torch.float64),
              torch.zeros(E, dtype=torch.float64))
    out, weights = _call_mha(submission, x, x, params, h, torch.ones(T, T, dtype=torch.bool).tril())
    assert tuple(out.shape) == (B, T, E), _("out should have shape (B, L, E)")
    assert tuple(weights.shape) == (B, h, T, T), _("weights should have shape (B, num_heads, L, S)")
    running_mean = x.cumsum(dim=1) / torch.arange(1, T + 1, dtype=torch.float64)[None, :, None]
    uniform = torch.ones(T, T, dtype=torch.float64).tril()
    uniform = (uniform / uniform.sum(-1, keepdim=True)).expand(B, h, T, T)
    assert _close(weights, uniform, "cpu"), \
        _("with zero query/key projections every allowed key should get the same weight")
    assert _close(out, running_mean, "cpu"), \
        _("with identity value/output projections, output t should be the average of the inputs 0..t: check how " \
        "the heads are merged back into (B, L, E)")


def _varies_over_tokens(out):
    """True when not every token got the same output (a stub returning zeros is equivariant too)."""
    out = out.detach().to(torch.float64)
    return bool((out - out[:, :1]).abs().max() > 1e-6)


@pytest.mark.points(1)
def test_self_attention_permutation_equivariant(submission):
    """Unmasked self-attention is permutation equivariant: f(x[:, perm]) = f(x)[:, perm] (attention and MHA)."""
    B, T, E, h = 2, 7, 8, 2
    g = torch.Generator().manual_seed(44)
    perm = torch.randperm(T, generator=g)
    x = _randn(g, B, T, E)
    out, weights = _call_attention(submission, x, x, x)
    out_p, weights_p = _call_attention(submission, x[:, perm], x[:, perm], x[:, perm])
    for value, shape in ((out, (B, T, E)), (out_p, (B, T, E)), (weights, (B, T, T)), (weights_p, (B, T, T))):
        assert tuple(value.shape) == shape, _("attention(x, x, x) with x of shape (B, T, E): out should be (B, T, E) " \
            "and weights (B, T, T)")
    assert _varies_over_tokens(out), _("attention gave every token the same output")
    assert _close(out_p, out[:, perm].detach(), "cpu"), _("attention(P x, P x, P x) should equal P attention(x, x, x)")
    assert _close(weights_p, weights[:, perm][:, :, perm].detach(), "cpu"), \
        _("permuting the tokens should permute both the rows and the columns of the attention weights")
    params = _params(g, E)
    out, weights = _call_mha(submission, x, x, params, h)
    out_p, weights_p = _call_mha(submission, x[:, perm], x[:, perm], params, h)
    for value, shape in ((out, (B, T, E)), (out_p, (B, T, E)), (weights, (B, h, T, T)), (weights_p, (B, h, T, T))):
        assert tuple(value.shape) == shape, _("multi_head_attention: out should have shape (B, L, E) and weights " \
            "(B, num_heads, L, S)")
    assert _varies_over_tokens(out), _("multi_head_attention gave every token the same output")
    assert _close(out_p, out[:, perm].detach(), "cpu"), \
        _("multi_head_attention on permuted tokens should give the permuted output: something mixes up tokens " \
        "(check split_heads and merge_heads)")
    assert _close(weights_p, weights[:, :, perm][:, :, :, perm].detach(), "cpu"), \
        _("multi_head_attention: permuting the tokens should permute the rows and columns of every head's weights")


@pytest.mark.points(2)
def test_equivariance_gap(submission):
    """equivariance_gap returns max |f(P x) - P f(x)| as a float, with and without a causal mask.

    The expected gap comes from the oracle (nn.MultiheadAttention), never from the submission's own
    multi_head_attention: a stub attention returning zeros plus a gap of 0.0 must not pass.
    """
    B, T, E, h = 2, 6, 8, 2
    g = torch.Generator().manual_seed(45)
    x = _randn(g, B, T, E)
    params = _params(g, E)
    for perm in ([2, 0, 3, 5, 1, 4], [1, 2, 3, 4, 5, 0]):
        perm = torch.tensor(perm)
        for mask in (None, torch.ones(T, T, dtype=torch.bool).tril()):
            gap = submission.equivariance_gap(x, perm, *params, h, mask)
            assert type(gap) is float, _("equivariance_gap should return a Python float")
            out, _unused = _torch_mha(params, E, h, x, x, mask)
            out_p, _unused = _torch_mha(params, E, h, x[:, perm], x[:, perm], mask)
            expected = (out_p - out[:, perm]).abs().max().item()
            where = "without a mask" if mask is None else "with a causal mask"
            assert math.isfinite(gap) and abs(gap - expected) <= 1e-9 + 1e-6 * expected, \
                _("equivariance_gap {where} is wrong: compare f(x[:, perm]) with f(x)[:, perm], same mask, and "
                  "return the largest absolute difference (the check computes f with a correct multi-head attention, "
                  "so make the multi-head checks pass first)", where=where)
