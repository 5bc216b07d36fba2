"""Trusted oracles of the week-6 hidden checks: PyTorch's own layers and distributions in float64 on the CPU.

The test files load this module by path (pytest runs them with --import-mode=importlib and no conftest). It is never
sent to the sandbox, and it never calls the submission.

Contract (stated in the notebook): a VAE is a dict of tensors in nn.Linear's layout, `enc` (H, D), `mu` and `logvar`
(L, H), `dec` (H, L), `out` (D, H), each with a bias; encode: h = ReLU(enc(x)), (mu(h), logvar(h)); decode:
out(ReLU(dec(z))) are Bernoulli logits; z = mu + exp(logvar / 2) * eps; the negative ELBO of an image is the
Bernoulli NLL summed over pixels plus KL(q || N(0, I)) summed over latent dimensions, averaged over the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.distributions import Independent, Normal, kl_divergence

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
LAYERS = ("enc", "mu", "logvar", "dec", "out")
KEYS = tuple(f"{layer}.{kind}" for layer in LAYERS for kind in ("weight", "bias"))


def shapes(D: int, H: int, L: int) -> dict[str, tuple[int, ...]]:
    fan = {"enc": (H, D), "mu": (L, H), "logvar": (L, H), "dec": (H, L), "out": (D, H)}
    out = {}
    for layer, (o, i) in fan.items():
        out[f"{layer}.weight"], out[f"{layer}.bias"] = (o, i), (o,)
    return out


def dtype_for(device: str) -> torch.dtype:
    """float64 on the CPU (compared at rounding level); float32 on a GPU."""
    return torch.float64 if device == "cpu" else torch.float32


def close(actual: torch.Tensor, expected: torch.Tensor, device: str, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """actual (any device) equals the float64 CPU `expected` up to the device's rounding, and is finite."""
    if device != "cpu":
        rtol, atol = max(rtol, 1e-4), max(atol, 1e-4)
    actual = actual.detach().cpu().to(torch.float64)
    return (actual.shape == expected.shape and bool(torch.isfinite(actual).all())
            and torch.allclose(actual, expected, rtol=rtol, atol=atol))


def random_vae(g: torch.Generator, D: int, H: int, L: int, scale: float = 1.0) -> dict[str, torch.Tensor]:
    """float64 parameters with non-trivial values everywhere (biases non-zero, so a missing bias shows)."""
    params = {}
    for key, shape in shapes(D, H, L).items():
        fan_in = shapes(D, H, L)[key.split(".")[0] + ".weight"][1]
        params[key] = torch.randn(*shape, generator=g, dtype=torch.float64) * scale / fan_in ** 0.5
        if key.endswith("bias"):
            params[key] = params[key] + 0.1 * torch.randn(*shape, generator=g, dtype=torch.float64)
    return params


def send(params: dict, device: str, dtype: torch.dtype | None = None) -> dict:
    dtype = dtype or dtype_for(device)
    return {key: value.to(device, dtype, copy=True) for key, value in params.items()}


def encode(x: torch.Tensor, p: dict) -> tuple[torch.Tensor, torch.Tensor]:
    h = F.relu(F.linear(x, p["enc.weight"], p["enc.bias"]))
    return F.linear(h, p["mu.weight"], p["mu.bias"]), F.linear(h, p["logvar.weight"], p["logvar.bias"])


def decode(z: torch.Tensor, p: dict) -> torch.Tensor:
    return F.linear(F.relu(F.linear(z, p["dec.weight"], p["dec.bias"])), p["out.weight"], p["out.bias"])


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL per row through torch.distributions: Independent Normals over the last axis."""
    q = Independent(Normal(mu, (0.5 * logvar).exp(), validate_args=False), 1, validate_args=False)
    p = Independent(Normal(torch.zeros_like(mu), torch.ones_like(mu), validate_args=False), 1, validate_args=False)
    return kl_divergence(q, p)


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=-1)


def neg_elbo(x: torch.Tensor, p: dict, eps: torch.Tensor) -> torch.Tensor:
    """Mean over the batch; eps may carry leading sample axes (S, B, L), averaged too."""
    mu, logvar = encode(x, p)
    z = mu + (0.5 * logvar).exp() * eps
    return (bernoulli_nll(decode(z, p), x.expand(*z.shape[:-1], x.shape[-1])) + gaussian_kl(mu, logvar)).mean()


def neg_elbo_grads(x: torch.Tensor, p: dict, eps: torch.Tensor) -> dict[str, torch.Tensor]:
    leaves = {key: value.detach().clone().requires_grad_(True) for key, value in p.items()}
    grads = torch.autograd.grad(neg_elbo(x, leaves, eps), list(leaves.values()))
    return dict(zip(leaves, grads, strict=True))
