"""Trusted oracles of the week-5 hidden checks: PyTorch's own modules and losses in float64 on the CPU.

The test files load this module by path (pytest runs them with --import-mode=importlib and no conftest). It is never
sent to the sandbox, and it never calls the submission.

Contract (stated in the notebook): a network is a dict with the keys of the state_dict of
nn.Sequential(nn.Linear, nn.LeakyReLU(0.2), nn.Linear, nn.LeakyReLU(0.2), ..., nn.Linear), i.e. "0.weight",
"0.bias", "2.weight", "2.bias", ..., weights (out, in) as in nn.Linear. The discriminator's output is one logit per
point; labels: real 1, fake 0.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
SLOPE = 0.2


def dtype_for(device: str) -> torch.dtype:
    """float64 on the CPU (compared at rounding level); float32 on a GPU."""
    return torch.float64 if device == "cpu" else torch.float32


def close(actual: torch.Tensor, expected: torch.Tensor, device: str) -> bool:
    """actual (any device) equals the float64 CPU `expected` up to the device's rounding, and is finite."""
    rtol, atol = (1e-6, 1e-9) if device == "cpu" else (1e-4, 1e-4)
    actual = actual.detach().cpu().to(torch.float64)
    return (actual.shape == expected.shape and bool(torch.isfinite(actual).all())
            and torch.allclose(actual, expected, rtol=rtol, atol=atol))


def network_keys(layers: int) -> list[str]:
    return [f"{2 * i}.{kind}" for i in range(layers) for kind in ("weight", "bias")]


def random_network(g: torch.Generator, sizes: list[int], scale: float = 1.0) -> dict[str, torch.Tensor]:
    """float64 weights with nn.Linear's initial scale (times `scale`) and non-zero biases."""
    out = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        weight = torch.randn(fan_out, fan_in, generator=g, dtype=torch.float64)
        out[f"{2 * i}.weight"] = weight * scale / math.sqrt(fan_in)
        out[f"{2 * i}.bias"] = torch.randn(fan_out, generator=g, dtype=torch.float64) * 0.3
    return out


def sequential(params: dict[str, torch.Tensor]) -> nn.Sequential:
    """nn.Sequential(Linear, LeakyReLU(0.2), ..., Linear) in float64 holding `params` (float64 CPU tensors)."""
    layers = len(params) // 2
    modules: list[nn.Module] = []
    for i in range(layers):
        weight = params[f"{2 * i}.weight"]
        modules.append(nn.Linear(weight.shape[1], weight.shape[0], dtype=torch.float64))
        if i < layers - 1:
            modules.append(nn.LeakyReLU(SLOPE))
    net = nn.Sequential(*modules)
    net.load_state_dict(params)
    return net


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Mean BCE of real logits against label 1 plus mean BCE of fake logits against label 0."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def g_loss(fake_logits: torch.Tensor, kind: str) -> torch.Tensor:
    """non_saturating: mean -log D(G(z)); minimax: mean log(1 - D(G(z)))."""
    if kind == "non_saturating":
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def gan_step(G: dict, D: dict, real: torch.Tensor, z: torch.Tensor, lr_d: float, lr_g: float,
             kind: str) -> tuple[dict, dict]:
    """One alternating SGD update with PyTorch modules: D on real and detached fakes, then G through the new D."""
    gen, disc = sequential(G), sequential(D)
    opt_d = torch.optim.SGD(disc.parameters(), lr=lr_d)
    opt_g = torch.optim.SGD(gen.parameters(), lr=lr_g)
    fake = gen(z)
    loss = d_loss(disc(real), disc(fake.detach()))
    opt_d.zero_grad()
    loss.backward()
    opt_d.step()
    opt_g.zero_grad()
    g_loss(disc(gen(z)), kind).backward()
    opt_g.step()
    return ({k: v.detach().clone() for k, v in gen.state_dict().items()},
            {k: v.detach().clone() for k, v in disc.state_dict().items()})


def entropy_terms(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """sum p log(p / q) with 0 log 0 = 0 (float64)."""
    mask = p > 0
    return (p[mask] * (p[mask] / q[mask]).log()).sum()


def jsd(p: torch.Tensor, q: torch.Tensor) -> float:
    """Jensen-Shannon divergence in nats: KL(p || m) / 2 + KL(q || m) / 2 with m = (p + q) / 2."""
    m = (p + q) / 2
    return float(entropy_terms(p, m) / 2 + entropy_terms(q, m) / 2)


def value(p: torch.Tensor, q: torch.Tensor, D: torch.Tensor) -> float:
    """V(D, G) = sum p log D + sum q log(1 - D), terms with zero weight left out."""
    a, b = p > 0, q > 0
    return float((p[a] * D[a].log()).sum() + (q[b] * (1 - D[b]).log()).sum())


def ring_centres(angle: float, modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    theta = angle + 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
    return radius * torch.stack([theta.cos(), theta.sin()], dim=1)


def ring_data(n: int, g: torch.Generator, angle: float, std: float = 0.05) -> torch.Tensor:
    """n points of the ring of 8 Gaussians (radius 2, std `std`) turned by `angle`, float32."""
    centres = ring_centres(angle)
    k = torch.randint(0, len(centres), (n,), generator=g)
    return (centres[k] + std * torch.randn(n, 2, generator=g, dtype=torch.float64)).float()


def coverage(G: dict, angle: float, n: int, g: torch.Generator, near: float, min_share: float) -> tuple[int, float]:
    """(modes hit, share of samples within `near` of a centre) of n samples from G drawn by the oracle's forward.

    A mode is hit when at least min_share of all samples lie within `near` of its centre."""
    latent = G["0.weight"].shape[1]
    with torch.no_grad():
        x = sequential(G)(torch.randn(n, latent, generator=g, dtype=torch.float64))
    dist, which = torch.cdist(x, ring_centres(angle)).min(dim=1)
    ok = dist < near
    counts = torch.bincount(which[ok], minlength=8)
    return int((counts >= min_share * n).sum()), float(ok.double().mean())
