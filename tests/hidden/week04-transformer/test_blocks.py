"""Hidden checks, week 4: positions, layer norm, feed-forward, the pre-norm decoder block, the whole GPT, causality.

Oracles (oracle.py): F.layer_norm, nn.Linear + F.gelu, and nn.TransformerEncoderLayer(norm_first=True,
activation="gelu", batch_first=True, dropout=0) loaded with the same weights and a causal mask, all in float64 on the
CPU; the closed form of the sinusoidal encodings. Inputs are made on the CPU with seeded generators and moved to each
device; on a GPU the submission runs in float32 and is compared at 1e-4.
"""

import importlib.util
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from autograder.i18n import _

_spec = importlib.util.spec_from_file_location("week04_oracle", Path(__file__).with_name("oracle.py"))
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)
DEVICES = oracle.DEVICES


def _tensor(value, what: str) -> torch.Tensor:
    assert type(value) is torch.Tensor, _("{what} should return a torch.Tensor", what=what)
    return value


def _shaped(value, shape: tuple, what: str) -> torch.Tensor:
    value = _tensor(value, what)
    assert tuple(value.shape) == shape, _("{what} should return a tensor of shape {shape} here", what=what, shape=shape)
    return value


# --- positions ------------------------------------------------------------------------------------------------------

@pytest.mark.points(1)
def test_sinusoidal_positions_closed_form(submission):
    """sinusoidal_positions(T, E) is the (T, E) table sin/cos(t / 10000^(2i/E)) in float32."""
    for T, E in ((1, 2), (7, 6), (13, 10), (50, 32)):
        pe = _shaped(submission.sinusoidal_positions(T, E), (T, E), f"sinusoidal_positions({T}, {E})")
        assert pe.dtype == torch.float32, _("sinusoidal_positions should return torch's default dtype, float32")
        even = torch.arange(0, E, 2, dtype=torch.float64)
        angles = torch.arange(T, dtype=torch.float64)[:, None] / 10000.0 ** (even / E)
        expected = torch.stack([angles.sin(), angles.cos()], dim=-1).reshape(T, E)   # columns sin, cos, sin, cos, ...
        assert bool(torch.isfinite(pe).all()) and torch.allclose(pe.double(), expected, rtol=0, atol=2e-5), \
            _("sinusoidal_positions({T}, {E}) differs from PE[t, 2i] = sin(t / 10000^(2i/E)), PE[t, 2i+1] = cos(same)",
              T=T, E=E)


@pytest.mark.points(1)
@pytest.mark.parametrize("device", DEVICES)
def test_embed_adds_token_and_position_rows(submission, device):
    """embed(tokens, tok_emb, pos_emb, start) is tok_emb[tokens] + pos_emb[start:start+T]."""
    g = torch.Generator().manual_seed(400)
    tok, pos = oracle.randn(g, 9, 5), oracle.randn(g, 8, 5)
    dtype = oracle.dtype_for(device)
    for B, T, start in ((3, 4, 0), (2, 8, 0), (2, 3, 5), (1, 1, 7)):
        tokens = torch.randint(0, 9, (B, T), generator=g)
        out = submission.embed(tokens.to(device), tok.to(device, dtype), pos.to(device, dtype), start)
        out = _shaped(out, (B, T, 5), "embed")
        expected = F.embedding(tokens, tok) + pos[start:start + T]
        assert oracle.close(out, expected, device), \
            _("embed with start={start} should add the rows tok_emb[tokens[b, t]] and pos_emb[start + t]", start=start)


@pytest.mark.points(1)
def test_block_equivariance_gap(submission):
    """block_equivariance_gap measures max |f(P x + pos) - P f(x + pos)| for the unmasked block, with and without pos.

    The expected gap comes from the oracle (nn.TransformerEncoderLayer without a mask), never from the submission's
    own decoder_block.
    """
    g = torch.Generator().manual_seed(401)
    B, T, E, h = 2, 6, 8, 2
    block = oracle.random_block(g, E, 16)
    x = oracle.randn(g, B, T, E)
    for perm in ([2, 0, 5, 1, 3, 4], [1, 2, 3, 4, 5, 0]):
        perm = torch.tensor(perm)
        for pos in (None, oracle.randn(g, T, E, scale=0.7)):
            gap = submission.block_equivariance_gap(x, perm, block, h, pos)
            assert type(gap) is float, _("block_equivariance_gap should return a Python float")
            shift = 0.0 if pos is None else pos
            out = oracle.block_forward(block, h, x + shift, causal=False)
            out_p = oracle.block_forward(block, h, x[:, perm] + shift, causal=False)
            expected = (out_p - out[:, perm]).abs().max().item()
            where = "without positions" if pos is None else "with positions"
            assert math.isfinite(gap) and abs(gap - expected) <= 1e-9 + 1e-6 * expected, \
                _("block_equivariance_gap {where} is wrong: compare f(x[:, perm] + pos) with f(x + pos)[:, perm] for "
                  "the block with causal=False (the check computes f with PyTorch's layer, so make the decoder_block "
                  "check pass first)", where=where)


# --- layer norm, feed-forward, block --------------------------------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.parametrize("device", DEVICES)
def test_layer_norm_matches_torch(submission, device):
    """layer_norm equals F.layer_norm over the last axis (biased variance, eps inside the square root)."""
    g = torch.Generator().manual_seed(402)
    dtype = oracle.dtype_for(device)
    for shape, eps in (((2, 3, 10), 1e-5), ((7, 4), 1e-5), ((2, 5, 6), 0.3)):
        E = shape[-1]
        x = 3 * oracle.randn(g, *shape) + 2
        w, b = 1 + oracle.randn(g, E, scale=0.5), oracle.randn(g, E)
        out = submission.layer_norm(x.to(device, dtype), w.to(device, dtype), b.to(device, dtype), eps)
        out = _shaped(out, shape, "layer_norm")
        assert oracle.close(out, F.layer_norm(x, (E,), w, b, eps=eps), device), \
            _("layer_norm (eps={eps}) differs from F.layer_norm: normalise each position over its last axis with the "
              "biased variance (divide by E) and eps inside the square root, then scale by weight and shift by bias",
              eps=eps)


@pytest.mark.points(1)
@pytest.mark.parametrize("device", DEVICES)
def test_feed_forward_matches_linear_gelu(submission, device):
    """feed_forward equals nn.Linear -> exact GELU -> nn.Linear."""
    g = torch.Generator().manual_seed(403)
    dtype = oracle.dtype_for(device)
    for E, F_dim in ((8, 32), (6, 10)):
        x = oracle.randn(g, 3, 5, E)
        w1, b1 = oracle.randn(g, F_dim, E, scale=2 / math.sqrt(E)), oracle.randn(g, F_dim)
        w2, b2 = oracle.randn(g, E, F_dim, scale=3.0), oracle.randn(g, E)
        out = submission.feed_forward(*(t.to(device, dtype) for t in (x, w1, b1, w2, b2)))
        out = _shaped(out, (3, 5, E), "feed_forward")
        expected = F.linear(F.gelu(F.linear(x, w1, b1)), w2, b2)
        assert oracle.close(out, expected, device), \
            _("feed_forward differs from GELU(x w1^T + b1) w2^T + b2 with the exact (erf) GELU, F.gelu's default")


def _block_cases(g):
    """(B, T, E, num_heads, F) with non-trivial weights: 4E and a feed-forward width that is not 4E."""
    for B, T, E, h, F_dim in ((2, 7, 12, 3, 48), (3, 5, 8, 2, 20), (1, 9, 8, 4, 32)):
        yield B, T, E, h, oracle.random_block(g, E, F_dim), oracle.randn(g, B, T, E)


@pytest.mark.points(3)
@pytest.mark.parametrize("device", DEVICES)
def test_decoder_block_matches_encoder_layer_with_causal_mask(submission, device):
    """decoder_block is nn.TransformerEncoderLayer(norm_first=True, gelu) with a causal mask (none if causal=False)."""
    g = torch.Generator().manual_seed(404)
    dtype = oracle.dtype_for(device)
    for B, T, E, h, block, x in _block_cases(g):
        sent = {key: value.to(device, dtype) for key, value in block.items()}
        out = _shaped(submission.decoder_block(x.to(device, dtype), sent, h), (B, T, E), "decoder_block")
        assert oracle.close(out, oracle.block_forward(block, h, x, causal=True), device), \
            _("decoder_block (E={E}, {h} heads) differs from a pre-norm encoder layer with a causal mask: check x + "
              "MHA(LN1(x)) with the causal mask (a token may attend to itself and the past), then x + FF(LN2(x))",
              E=E, h=h)
        out = _shaped(submission.decoder_block(x.to(device, dtype), sent, h, False), (B, T, E), "decoder_block")
        assert oracle.close(out, oracle.block_forward(block, h, x, causal=False), device), \
            _("decoder_block with causal=False (E={E}, {h} heads) differs from the same layer without a mask", E=E, h=h)


# --- the whole model -------------------------------------------------------------------------------------------------

@pytest.mark.points(3)
@pytest.mark.parametrize("device", DEVICES)
def test_gpt_logits_match_torch_layers(submission, device):
    """gpt_logits is embeddings + PyTorch's causal encoder layers + a final LayerNorm + the tied output projection."""
    g = torch.Generator().manual_seed(405)
    for V, E, h, N, block_size, F_dim, B, T in ((11, 12, 3, 2, 9, 48, 2, 9), (11, 12, 3, 2, 9, 48, 3, 5),
                                                (7, 8, 4, 3, 6, 24, 2, 6), (5, 8, 2, 1, 4, 32, 1, 1)):
        params = oracle.random_gpt(g, V, E, h, N, block_size, F_dim)
        tokens = torch.randint(0, V, (B, T), generator=g)
        out = _shaped(submission.gpt_logits(tokens.to(device), oracle.send(params, device)), (B, T, V), "gpt_logits")
        assert oracle.close(out, oracle.OracleGPT(params).logits(tokens), device), \
            _("gpt_logits ({N} blocks, E={E}, T={T}) differs from tok_emb[tokens] + pos_emb[:T], the causal pre-norm "
              "blocks in order, the final layer norm (norm.weight, norm.bias), then h @ tok_emb^T (tied, no bias)",
              N=N, E=E, T=T)


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_gpt_logits_are_causal(submission, device):
    """Changing token t+1 leaves the logits at positions <= t bit-identical and changes the later ones.

    The verdict is computed here from the two logit tensors the submission returned. On the CPU the earlier logits
    must be bit-identical (masked attention weights are exactly 0); on a GPU within 1e-5 (float32), far below the
    changes a peek into the future causes.
    """
    g = torch.Generator().manual_seed(406)
    V, T = 13, 10
    params = oracle.send(oracle.random_gpt(g, V, 16, 4, 2, T), device)
    tokens = torch.randint(0, V, (2, T), generator=g)
    base = _shaped(submission.gpt_logits(tokens.to(device), params), (2, T, V), "gpt_logits").detach().cpu()
    assert bool(torch.isfinite(base).all()), _("gpt_logits returned inf or nan")
    for t in (0, 3, 8):
        changed = tokens.clone()
        changed[:, t + 1] = (changed[:, t + 1] + 1 + t) % V
        new = _shaped(submission.gpt_logits(changed.to(device), params), (2, T, V), "gpt_logits").detach().cpu()
        same = torch.equal(new[:, :t + 1], base[:, :t + 1]) if device == "cpu" else \
            torch.allclose(new[:, :t + 1], base[:, :t + 1], rtol=1e-5, atol=1e-5)
        assert same, _("changing one token changed the logits at earlier positions: the model looks into the future " \
                     "(check the causal mask: query i may attend to the keys 0..i only)")
        assert (new[:, t + 1:] - base[:, t + 1:]).abs().amax(dim=-1).min() > 1e-6, \
            _("changing one token should change the logits at its own and every later position")
