"""Trusted oracles of the week-4 hidden checks: PyTorch's own layers in float64 on the CPU.

The test files load this module by path (pytest runs them with --import-mode=importlib and no conftest). It is never
sent to the sandbox (only probes.py would be), and it never calls the submission.

Contract (stated in the notebook): a GPT is a dict {"num_heads": int, "tok_emb": (V, E), "pos_emb": (T_max, E),
"blocks": [dicts with the keys of nn.TransformerEncoderLayer's state_dict], "norm.weight", "norm.bias": (E,)};
logits = LN(blocks(tok_emb[tokens] + pos_emb[:T])) @ tok_emb^T, each block pre-norm with a causal mask and the exact
(erf) GELU, no dropout. Sampling: temperature, top-k (ties with the k-th kept), softmax, top-p (a token is kept when
the mass before it in a stable descending sort is < top_p), renormalise; then one u = torch.rand((), generator,
float64) per token and token = #{i : cdf_i <= u * cdf_last}.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
BLOCK_KEYS = ("norm1.weight", "norm1.bias", "self_attn.in_proj_weight", "self_attn.in_proj_bias",
              "self_attn.out_proj.weight", "self_attn.out_proj.bias", "norm2.weight", "norm2.bias",
              "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias")
TOP_KEYS = {"num_heads", "tok_emb", "pos_emb", "blocks", "norm.weight", "norm.bias"}


def dtype_for(device: str) -> torch.dtype:
    """float64 on the CPU (compared at rounding level); float32 on a GPU."""
    return torch.float64 if device == "cpu" else torch.float32


def close(actual: torch.Tensor, expected: torch.Tensor, device: str) -> bool:
    """actual (any device) equals the float64 CPU `expected` up to the device's rounding, and is finite."""
    rtol, atol = (1e-6, 1e-9) if device == "cpu" else (1e-4, 1e-4)
    actual = actual.detach().cpu().to(torch.float64)
    return (actual.shape == expected.shape and bool(torch.isfinite(actual).all())
            and torch.allclose(actual, expected, rtol=rtol, atol=atol))


def randn(g: torch.Generator, *shape: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=g, dtype=torch.float64) * scale


def random_block(g: torch.Generator, E: int, F_dim: int) -> dict[str, torch.Tensor]:
    """A block whose every weight matters: layer norms away from (1, 0), biases non-zero, attention sharp enough
    that its weights are far from uniform."""
    return {"norm1.weight": 1 + randn(g, E, scale=0.3), "norm1.bias": randn(g, E, scale=0.3),
            "self_attn.in_proj_weight": randn(g, 3 * E, E, scale=1.5 / math.sqrt(E)),
            "self_attn.in_proj_bias": randn(g, 3 * E, scale=0.3),
            "self_attn.out_proj.weight": randn(g, E, E, scale=1 / math.sqrt(E)),
            "self_attn.out_proj.bias": randn(g, E, scale=0.3),
            "norm2.weight": 1 + randn(g, E, scale=0.3), "norm2.bias": randn(g, E, scale=0.3),
            "linear1.weight": randn(g, F_dim, E, scale=1.5 / math.sqrt(E)), "linear1.bias": randn(g, F_dim, scale=0.5),
            "linear2.weight": randn(g, E, F_dim, scale=1 / math.sqrt(F_dim)), "linear2.bias": randn(g, E, scale=0.3)}


def random_gpt(g: torch.Generator, V: int, E: int, num_heads: int, num_layers: int, block_size: int,
               F_dim: int | None = None) -> dict:
    """A float64 GPT with non-trivial weights everywhere."""
    return {"num_heads": num_heads, "tok_emb": randn(g, V, E), "pos_emb": randn(g, block_size, E, scale=0.7),
            "blocks": [random_block(g, E, F_dim or 4 * E) for _ in range(num_layers)],
            "norm.weight": 1 + randn(g, E, scale=0.3), "norm.bias": randn(g, E, scale=0.3)}


def send(params: dict, device: str, dtype: torch.dtype | None = None) -> dict:
    """A copy of a GPT on `device` in `dtype` (the device's default), to hand to the submission."""
    dtype = dtype or dtype_for(device)

    def move(t: torch.Tensor) -> torch.Tensor:
        return t.to(device, dtype, copy=True)

    out = {key: value if key in ("num_heads", "blocks") else move(value) for key, value in params.items()}
    out["blocks"] = [{key: move(value) for key, value in block.items()} for block in params["blocks"]]
    return out


def causal_keep(T: int) -> torch.Tensor:
    """(T, T) bool, True = may attend (the course's polarity)."""
    return torch.ones(T, T, dtype=torch.bool).tril()


def encoder_layer(block: dict, num_heads: int) -> nn.TransformerEncoderLayer:
    """nn.TransformerEncoderLayer(norm_first=True, activation='gelu', batch_first=True, dropout=0) in float64 with
    the block's weights. Left in training mode: with dropout 0 that is deterministic and keeps PyTorch's fused
    inference fast path out of the oracle."""
    E = block["norm1.weight"].shape[0]
    F_dim = block["linear1.weight"].shape[0]
    layer = nn.TransformerEncoderLayer(E, num_heads, dim_feedforward=F_dim, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=True, dtype=torch.float64)
    layer.load_state_dict({key: value.to(torch.float64) for key, value in block.items()})
    return layer


def block_forward(block: dict, num_heads: int, x: torch.Tensor, causal: bool = True) -> torch.Tensor:
    """The oracle block on float64 CPU x (B, T, E)."""
    layer = encoder_layer(block, num_heads)
    with torch.no_grad():
        if causal:
            # nn.TransformerEncoderLayer's bool mask says True = NOT allowed: the inverse of the course's mask
            return layer(x, src_mask=~causal_keep(x.shape[1]), is_causal=True)
        return layer(x)


class OracleGPT:
    """A GPT's forward pass with PyTorch's layers, float64 on the CPU."""

    def __init__(self, params: dict):
        self.num_heads = int(params["num_heads"])
        self.tok_emb = params["tok_emb"].to(torch.float64)
        self.pos_emb = params["pos_emb"].to(torch.float64)
        self.norm = (params["norm.weight"].to(torch.float64), params["norm.bias"].to(torch.float64))
        self.layers = [encoder_layer(block, self.num_heads) for block in params["blocks"]]

    def block_inputs(self, tokens: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """(the input of every block, the output of the last one) for int64 tokens (B, T)."""
        T = tokens.shape[1]
        with torch.no_grad():
            x = F.embedding(tokens, self.tok_emb) + self.pos_emb[:T]
            inputs = []
            for layer in self.layers:
                inputs.append(x)
                x = layer(x, src_mask=~causal_keep(T), is_causal=True)
        return inputs, x

    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        _, x = self.block_inputs(tokens)
        with torch.no_grad():
            h = F.layer_norm(x, (x.shape[-1],), *self.norm, eps=1e-5)
            return h @ self.tok_emb.T

    def keys_values(self, tokens: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per block, the keys and values (B, h, T, d) nn.MultiheadAttention forms from norm1 of the block's input:
        in_proj rows [E, 2E) and [2E, 3E), head j on the columns [j*d, (j+1)*d)."""
        inputs, _ = self.block_inputs(tokens)
        pairs = []
        with torch.no_grad():
            for layer, x in zip(self.layers, inputs, strict=True):
                B, T, E = x.shape
                d = E // self.num_heads
                h = layer.norm1(x)
                _, w_k, w_v = layer.self_attn.in_proj_weight.chunk(3)
                _, b_k, b_v = layer.self_attn.in_proj_bias.chunk(3)
                k = F.linear(h, w_k, b_k).view(B, T, self.num_heads, d).transpose(1, 2)
                v = F.linear(h, w_v, b_v).view(B, T, self.num_heads, d).transpose(1, 2)
                pairs.append((k, v))
        return pairs


def filter_probs(logits: torch.Tensor, temperature: float, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """The sampling distribution, written independently of the notebook (Python loops for the order and masses)."""
    z = logits.detach().cpu().to(torch.float64) / temperature
    V = z.numel()
    if top_k is not None:
        kth = sorted(z.tolist(), reverse=True)[min(top_k, V) - 1]
        z = torch.where(z >= kth, z, torch.full_like(z, -math.inf))
    probs = torch.softmax(z, dim=0)
    if top_p is not None:
        values = probs.tolist()
        order = sorted(range(V), key=lambda i: (-values[i], i))
        keep, mass = set(), 0.0
        for i in order:
            if mass < top_p:
                keep.add(i)
            mass += values[i]
        probs = torch.tensor([values[i] if i in keep else 0.0 for i in range(V)], dtype=torch.float64)
        probs = probs / probs.sum()
    return probs


def draw(probs: torch.Tensor, generator: torch.Generator) -> int:
    """One token of the specified stream: u = torch.rand((), float64), the first token whose cdf exceeds u."""
    u = torch.rand((), generator=generator, dtype=torch.float64)
    cdf = torch.cumsum(probs, dim=0)
    return int((cdf <= u * cdf[-1]).sum())
