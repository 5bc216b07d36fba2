"""Trusted oracles of the week-7 hidden checks: the schedule, the forward process, Bayes' rule, the noise network
(PyTorch's own nn.Sequential of nn.Linear and nn.SiLU) and the reverse process, all in float64 on the CPU.

The test files load this module by path (pytest runs them with --import-mode=importlib and no conftest). It is never
sent to the sandbox, and it never calls the submission.

Contract (stated in the notebook): index i = 0..T-1 is the paper's step t = i+1; schedule = {"betas", "alphas",
"alphas_cumprod"} float64 (T,). The network is nn.Sequential(Linear, SiLU, Linear, SiLU, Linear, SiLU, Linear) (keys
net.0/2/4/6) on [x, time embedding of i (32: sin then cos, f_j = 10000^(-j/16)), one-hot label (K+1, index K = no
label) when conditional]. Sampling: x_T = randn(n, 2, float64) from the generator, then for i = T-1..0 the mean
(x - beta_i / sqrt(1 - abar_i) eps) / sqrt(alpha_i), plus sqrt(beta~_i) randn(n, 2, float64) only for i > 0.
Guidance: eps_u + w (eps_c - eps_u).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
EMB_DIM = 32
KEYS = tuple(f"net.{k}.{kind}" for k in (0, 2, 4, 6) for kind in ("weight", "bias"))


def dtype_for(device: str) -> torch.dtype:
    """float64 on the CPU (compared at rounding level); float32 on a GPU."""
    return torch.float64 if device == "cpu" else torch.float32


def close(actual, expected: torch.Tensor, device: str, rtol: float = 1e-9, atol: float = 1e-11) -> bool:
    """actual (a tensor on any device) equals the float64 CPU `expected` to the device's rounding, and is finite."""
    if type(actual) is not torch.Tensor:
        return False
    if device != "cpu":
        rtol, atol = 1e-4, 1e-4
    actual = actual.detach().cpu().to(torch.float64)
    return (tuple(actual.shape) == tuple(expected.shape) and bool(torch.isfinite(actual).all())
            and torch.allclose(actual, expected, rtol=rtol, atol=atol))


# --- schedule and forward process --------------------------------------------------------------------------------

def schedule(T: int, beta_1: float = 1e-3, beta_T: float = 0.2, kind: str = "linear") -> dict[str, torch.Tensor]:
    if kind == "linear":
        betas = beta_1 + (beta_T - beta_1) * torch.arange(T, dtype=torch.float64) / max(T - 1, 1)
    else:
        s = 0.008
        f = [math.cos((j / T + s) / (1 + s) * math.pi / 2) ** 2 for j in range(T + 1)]
        betas = torch.tensor([min(1 - f[j + 1] / f[j], 0.999) for j in range(T)], dtype=torch.float64)
    alphas = 1 - betas
    abar = torch.tensor([math.prod(alphas[: j + 1].tolist()) for j in range(T)], dtype=torch.float64)
    return {"betas": betas, "alphas": alphas, "alphas_cumprod": abar}


def q_sample(x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, sched: dict) -> torch.Tensor:
    abar = sched["alphas_cumprod"][t][:, None]
    return abar.sqrt() * x0.double() + (1 - abar).sqrt() * eps.double()


def iterate_forward(x0: torch.Tensor, i: int, sched: dict, g: torch.Generator) -> torch.Tensor:
    """x_{i+1} by i+1 one-step draws x <- sqrt(1 - beta_j) x + sqrt(beta_j) z (the process, not the closed form)."""
    x = x0.double().clone()
    for j in range(i + 1):
        beta = float(sched["betas"][j])
        x = math.sqrt(1 - beta) * x + math.sqrt(beta) * torch.randn(x.shape, generator=g, dtype=torch.float64)
    return x


def posterior_bayes(x0: torch.Tensor, xt: torch.Tensor, t: torch.Tensor, sched: dict):
    """q(x_{t-1} | x_t, x_0) by Bayes' rule: the product of N(x_t; sqrt(alpha) x, beta) and
    N(x; sqrt(abar_prev) x0, 1 - abar_prev) in x, by precisions; index 0 (abar_prev = 1) is the point mass at x0."""
    x0, xt = x0.double(), xt.double()
    mean = torch.empty_like(x0)
    var = torch.empty(len(t), dtype=torch.float64)
    for row, i in enumerate(t.tolist()):
        if i == 0:
            mean[row], var[row] = x0[row], 0.0
            continue
        beta, alpha = float(sched["betas"][i]), float(sched["alphas"][i])
        prior_mean = math.sqrt(float(sched["alphas_cumprod"][i - 1])) * x0[row]
        prior_var = 1 - float(sched["alphas_cumprod"][i - 1])
        precision = alpha / beta + 1 / prior_var
        var[row] = 1 / precision
        mean[row] = var[row] * (math.sqrt(alpha) / beta * xt[row] + prior_mean / prior_var)
    return mean, var


# --- the network ----------------------------------------------------------------------------------------------------

def time_embedding(t: torch.Tensor) -> torch.Tensor:
    j = torch.arange(EMB_DIM // 2, dtype=torch.float64)
    angles = t.double()[:, None] * 10000.0 ** (-j / (EMB_DIM // 2))
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class Net:
    """The noise predictor with PyTorch's layers, float64 on the CPU."""

    def __init__(self, params: dict):
        weights = {key: params[key].detach().cpu().to(torch.float64) for key in KEYS}
        in_dim, hidden = weights["net.0.weight"].shape[1], weights["net.0.weight"].shape[0]
        self.num_classes = max(in_dim - 2 - EMB_DIM - 1, 0)
        self.model = nn.Module()   # a container, so that the state_dict keys are net.0.weight ...
        self.model.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                       nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 2)).double()
        self.model.load_state_dict(weights)

    def __call__(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        feats = [x.double(), time_embedding(t)]
        if self.num_classes:
            labels = torch.full((len(x),), self.num_classes) if y is None else y
            feats.append(F.one_hot(labels, self.num_classes + 1).double())
        with torch.no_grad():
            return self.model.net(torch.cat(feats, dim=1))

    def guided(self, x, t, y, w: float) -> torch.Tensor:
        eps_u = self(x, t, None)
        return eps_u + w * (self(x, t, y) - eps_u)


def random_params(g: torch.Generator, num_classes: int = 0, hidden: int = 16, scale: float = 1.0) -> dict:
    """float64 parameters with every weight mattering (biases non-zero, outputs of order 1)."""
    in_dim = 2 + EMB_DIM + (num_classes + 1 if num_classes else 0)
    sizes = [(hidden, in_dim), (hidden, hidden), (hidden, hidden), (2, hidden)]
    out = {}
    for k, (fan_out, fan_in) in enumerate(sizes):
        std = scale * 1.5 / math.sqrt(fan_in)
        out[f"net.{2 * k}.weight"] = torch.randn(fan_out, fan_in, generator=g, dtype=torch.float64) * std
        out[f"net.{2 * k}.bias"] = torch.randn(fan_out, generator=g, dtype=torch.float64) * 0.3
    return out


def sample(net: Net, n: int, g: torch.Generator, sched: dict, y: torch.Tensor | None = None,
           w: float = 1.0) -> torch.Tensor:
    """Ancestral sampling with the contract's stream (x_T first, one draw per step with i > 0)."""
    betas, alphas, abar = sched["betas"], sched["alphas"], sched["alphas_cumprod"]
    x = torch.randn(n, 2, generator=g, dtype=torch.float64)
    for i in reversed(range(len(betas))):
        t = torch.full((n,), i, dtype=torch.long)
        eps = net(x, t) if y is None else net.guided(x, t, y, w)
        mean = (x - betas[i] / (1 - abar[i]).sqrt() * eps) / alphas[i].sqrt()
        if i > 0:
            var = betas[i] * (1 - abar[i - 1]) / (1 - abar[i])
            x = mean + var.sqrt() * torch.randn(n, 2, generator=g, dtype=torch.float64)
        else:
            x = mean
    return x


def _init_draws(g: torch.Generator, num_classes: int) -> list[torch.Tensor]:
    """init_eps_net's tensors (hidden width 128), drawn as the notebook documents: uniform in +-1/sqrt(fan_in),
    weight then bias, layer by layer."""
    in_dim = 2 + EMB_DIM + (num_classes + 1 if num_classes else 0)
    tensors = []
    for fan_out, fan_in in [(128, in_dim), (128, 128), (128, 128), (2, 128)]:
        bound = 1 / math.sqrt(fan_in)
        for shape in ((fan_out, fan_in), (fan_out,)):
            tensors.append((torch.rand(shape, generator=g) * 2 - 1) * bound)
    return tensors


def first_drop_draws(seed: int, num_classes: int, n_rows: int, T: int, batch_size: int) -> torch.Tensor:
    """The uniform draws behind the first step's dropout mask in the documented stream (after the init, rows, t and
    eps draws): a p_uncond equal to one of them tells `u < p_uncond` from `u <= p_uncond`."""
    g = torch.Generator().manual_seed(seed)
    _init_draws(g, num_classes)
    torch.randint(0, n_rows, (batch_size,), generator=g)
    torch.randint(0, T, (batch_size,), generator=g)
    torch.randn(batch_size, 2, generator=g)
    return torch.rand(batch_size, generator=g)


def train_loop(data: torch.Tensor, sched: dict, steps: int, batch_size: int, lr: float, seed: int,
               labels: torch.Tensor | None = None, num_classes: int = 0, p_uncond: float = 0.2) -> dict:
    """The notebook's documented training loop, written here with PyTorch's own F.linear and torch.optim.Adam in
    float32 on the CPU: init_eps_net's draws (uniform, 1/sqrt(fan_in), weight then bias per layer), then per step
    rows, t, eps and (conditional only) the dropout mask from one generator, the simplified loss, Adam at lr."""
    g = torch.Generator().manual_seed(seed)
    tensors = [tensor.requires_grad_(True) for tensor in _init_draws(g, num_classes)]
    optimizer = torch.optim.Adam(tensors, lr=lr)
    data, abar = data.to(torch.float32), sched["alphas_cumprod"]
    for _step in range(steps):
        rows = torch.randint(0, len(data), (batch_size,), generator=g)
        t = torch.randint(0, len(abar), (batch_size,), generator=g)
        eps = torch.randn(batch_size, 2, generator=g)
        a = abar[t].to(torch.float32)[:, None]
        feats = [a.sqrt() * data[rows] + (1 - a).sqrt() * eps, time_embedding(t).to(torch.float32)]
        if num_classes:
            drop = torch.rand(batch_size, generator=g) < p_uncond
            feats.append(F.one_hot(torch.where(drop, num_classes, labels[rows]), num_classes + 1).to(torch.float32))
        h = torch.cat(feats, dim=1)
        for k in range(3):
            h = F.silu(F.linear(h, tensors[2 * k], tensors[2 * k + 1]))
        loss = ((eps - F.linear(h, tensors[6], tensors[7])) ** 2).sum(dim=1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return {key: tensor.detach() for key, tensor in zip(KEYS, tensors, strict=True)}


# --- data and statistics ----------------------------------------------------------------------------------------------

def ring(n: int, g: torch.Generator, angle: float, num_modes: int = 8, radius: float = 2.0, sigma: float = 0.1):
    """(float32 points (n, 2), int64 labels (n,)) of the ring of Gaussians, drawn here."""
    labels = torch.randint(0, num_modes, (n,), generator=g)
    centres = centres_of(angle, num_modes, radius)
    x = centres[labels] + sigma * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return x.float(), labels


def centres_of(angle: float, num_modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    theta = angle + 2 * math.pi * torch.arange(num_modes, dtype=torch.float64) / num_modes
    return radius * torch.stack([theta.cos(), theta.sin()], dim=1)


def mode_stats(samples: torch.Tensor, centres: torch.Tensor, sigma: float = 0.1) -> tuple[float, torch.Tensor]:
    """(fraction within 3 sigma of the nearest centre, share of all samples near each centre)."""
    dist = torch.cdist(samples.double(), centres)
    nearest = dist.min(dim=1)
    near = nearest.values < 3 * sigma
    shares = torch.bincount(nearest.indices[near], minlength=len(centres)).double() / len(samples)
    finite = bool(torch.isfinite(samples).all())
    return (near.double().mean().item() if finite else 0.0), shares


def omitting_each(defaults: dict) -> list[tuple[str, dict]]:
    """Keyword sets for a documented-defaults check: each parameter left out in turn (the others given their
    documented values), then all of them left out. Each call must equal the call with every documented value given,
    so a changed default shows up whichever parameter it belongs to (the other values cannot mask it)."""
    variants = [(name, {k: v for k, v in defaults.items() if k != name}) for name in defaults]
    if len(defaults) > 1:
        variants.append((", ".join(defaults), {}))
    return variants
