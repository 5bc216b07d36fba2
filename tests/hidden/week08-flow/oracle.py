"""Trusted oracles of the week-8 hidden checks: the RealNVP affine coupling layer and the flow built from PyTorch's own
layers (nn.Sequential of nn.Linear and nn.SiLU) in float64 on the CPU, the change-of-variables likelihood, the sampler,
log-determinants by automatic differentiation (torch.autograd.functional.jacobian + torch.linalg.slogdet), and the data.

The test files load this module by path (pytest runs them with --import-mode=importlib and no conftest). It is never
sent to the sandbox, and it never calls the submission.

Contract (stated in the notebook): a layer is a dict in the layout of nn.Sequential(Linear(D, H), SiLU, Linear(H, H),
SiLU, Linear(H, 2D)) (keys net.0/2/4 .weight/.bias), applied to mask * x; s = tanh(first D outputs), t = the last D.
forward: y = b x + (1 - b)(x exp(s) + t); inverse: x = b y + (1 - b)(y - t) exp(-s); log|det| = sum (1 - b) s.
Layer k of a flow (a list, layer 0 applied first to the data) uses b_j = 1 where j + k is even. log p(x) =
-|z|^2 / 2 - D/2 log 2 pi + the summed log-dets. Sampling: z = randn(n, D, float64) from the generator, then the
inverses of layers L-1 .. 0.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
LAYER_KEYS = ("net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias", "net.4.weight", "net.4.bias")


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


def send(params: list, device: str) -> list:
    """The flow's tensors as copies on `device` in its dtype (what a check passes to the submission)."""
    return [{key: value.to(device, dtype_for(device), copy=True) for key, value in layer.items()} for layer in params]


def mask(k: int, dim: int) -> torch.Tensor:
    """Layer k's mask: 1 (kept) where j + k is even."""
    return torch.tensor([1.0 if (j + k) % 2 == 0 else 0.0 for j in range(dim)], dtype=torch.float64)


# --- the layer and the flow -------------------------------------------------------------------------------------------

class Layer:
    """One coupling layer's conditioner with PyTorch's layers, float64 on the CPU."""

    def __init__(self, params: dict):
        weights = {key: params[key].detach().cpu().to(torch.float64) for key in LAYER_KEYS}
        hidden, dim = weights["net.0.weight"].shape
        self.dim = dim
        self.model = nn.Module()   # a container, so that the state_dict keys are net.0.weight ...
        self.model.net = nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                       nn.Linear(hidden, 2 * dim)).double()
        self.model.load_state_dict(weights)

    def s_t(self, kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model.net(kept)
        return torch.tanh(out[:, : self.dim]), out[:, self.dim:]

    def forward(self, x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        s, t = self.s_t(b * x)
        return b * x + (1 - b) * (x * torch.exp(s) + t)

    def inverse(self, y: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        s, t = self.s_t(b * y)
        return b * y + (1 - b) * (y - t) * torch.exp(-s)

    def log_det(self, x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        s, _ = self.s_t(b * x)
        return ((1 - b) * s).sum(dim=1)


class Flow:
    """The whole flow (layer 0 first), float64 on the CPU."""

    def __init__(self, params: list):
        self.layers = [Layer(layer) for layer in params]
        self.dim = self.layers[0].dim

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z, total = x.double(), torch.zeros(len(x), dtype=torch.float64)
        for k, layer in enumerate(self.layers):
            total = total + layer.log_det(z, mask(k, self.dim))
            z = layer.forward(z, mask(k, self.dim))
        return z, total

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            z, total = self.forward(x)
        return -0.5 * (z ** 2).sum(dim=1) - 0.5 * self.dim * math.log(2 * math.pi) + total

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        x = z.double()
        with torch.no_grad():
            for k in reversed(range(len(self.layers))):
                x = self.layers[k].inverse(x, mask(k, self.dim))
        return x

    def sample(self, n: int, g: torch.Generator) -> torch.Tensor:
        return self.inverse(torch.randn(n, self.dim, generator=g, dtype=torch.float64))


def jacobian_log_det(fn, x: torch.Tensor) -> torch.Tensor:
    """log |det J| of fn: R^D -> R^D at each row of x, by automatic differentiation (the Jacobian of one row at a time)
    and torch.linalg.slogdet: independent of the sum-of-log-scales formula the submission implements."""
    out = []
    for row in x.double():
        jac = torch.autograd.functional.jacobian(lambda v: fn(v[None])[0], row)
        out.append(torch.linalg.slogdet(jac).logabsdet)
    return torch.stack(out)


def random_layer(g: torch.Generator, dim: int, hidden: int = 12, scale: float = 1.0) -> dict:
    """float64 parameters with every weight mattering (biases non-zero, log-scales of order 1)."""
    sizes = {"net.0": (hidden, dim), "net.2": (hidden, hidden), "net.4": (2 * dim, hidden)}
    out = {}
    for name, (fan_out, fan_in) in sizes.items():
        std = (scale if name == "net.4" else 1.5) / math.sqrt(fan_in)
        out[f"{name}.weight"] = torch.randn(fan_out, fan_in, generator=g, dtype=torch.float64) * std * 1.5
        out[f"{name}.bias"] = torch.randn(fan_out, generator=g, dtype=torch.float64) * 0.3
    return out


def random_flow(g: torch.Generator, num_layers: int, dim: int, hidden: int = 12, scale: float = 1.0) -> list:
    return [random_layer(g, dim, hidden, scale) for _ in range(num_layers)]


# --- the documented training loop ---------------------------------------------------------------------------------

def init_draws(g: torch.Generator, num_layers: int, dim: int, hidden: int) -> list[dict]:
    """init_flow's parameters from g, written from the notebook's contract: per layer net.0 then net.2, weight then
    bias, each uniform on (-1/sqrt(fan_in), 1/sqrt(fan_in)) as rand * 2 - 1 scaled; net.4 zero (no draw)."""
    params = []
    for _layer in range(num_layers):
        layer = {}
        for name, (fan_out, fan_in) in (("net.0", (hidden, dim)), ("net.2", (hidden, hidden))):
            bound = 1 / math.sqrt(fan_in)
            layer[f"{name}.weight"] = (torch.rand(fan_out, fan_in, generator=g) * 2 - 1) * bound
            layer[f"{name}.bias"] = (torch.rand(fan_out, generator=g) * 2 - 1) * bound
        layer["net.4.weight"], layer["net.4.bias"] = torch.zeros(2 * dim, hidden), torch.zeros(2 * dim)
        params.append(layer)
    return params


def _log_prob32(params: list, x: torch.Tensor) -> torch.Tensor:
    """log p(x) in float32 with autograd (F.linear and F.silu): the training loop's loss, not an evaluation."""
    dim, z = x.shape[1], x
    total = torch.zeros(len(x))
    for k, layer in enumerate(params):
        b = mask(k, dim).to(torch.float32)
        h = F.silu(F.linear(b * z, layer["net.0.weight"], layer["net.0.bias"]))
        h = F.silu(F.linear(h, layer["net.2.weight"], layer["net.2.bias"]))
        out = F.linear(h, layer["net.4.weight"], layer["net.4.bias"])
        s, t = torch.tanh(out[:, :dim]), out[:, dim:]
        total = total + ((1 - b) * s).sum(dim=1)
        z = b * z + (1 - b) * (z * torch.exp(s) + t)
    return -0.5 * (z ** 2).sum(dim=1) - 0.5 * dim * math.log(2 * math.pi) + total


def train_loop(data: torch.Tensor, steps: int, batch_size: int, lr: float, seed: int, num_layers: int = 8,
               hidden: int = 64) -> list[dict]:
    """The notebook's documented train_flow, written here in float32 on the CPU with PyTorch's torch.optim.Adam: one
    generator seeded with seed draws init_flow's parameters, then each step's rows (torch.randint(0, N, (B,))); the
    loss is the batch's mean negative log-likelihood."""
    g = torch.Generator().manual_seed(seed)
    params = [{key: value.requires_grad_(True) for key, value in layer.items()}
              for layer in init_draws(g, num_layers, data.shape[1], hidden)]
    optimizer = torch.optim.Adam([value for layer in params for value in layer.values()], lr=lr)
    data = data.to(torch.float32)
    for _step in range(steps):
        rows = torch.randint(0, len(data), (batch_size,), generator=g)
        loss = -_log_prob32(params, data[rows]).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return [{key: value.detach() for key, value in layer.items()} for layer in params]


# --- data and baselines -----------------------------------------------------------------------------------------------

def moons(n: int, g: torch.Generator, angle: float, shift: tuple[float, float], noise: float = 0.1) -> torch.Tensor:
    """float64 points (n, 2) of two moons, rotated by angle and shifted (drawn here, not by make_moons)."""
    upper = torch.rand(n, generator=g, dtype=torch.float64) < 0.5
    theta = math.pi * torch.rand(n, generator=g, dtype=torch.float64)
    top = torch.stack([theta.cos(), theta.sin()], dim=1)
    bottom = torch.stack([1 - theta.cos(), 0.5 - theta.sin()], dim=1)
    x = torch.where(upper[:, None], top, bottom) + noise * torch.randn(n, 2, generator=g, dtype=torch.float64)
    c, s = math.cos(angle), math.sin(angle)
    rotation = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    return x @ rotation.T + torch.tensor(shift, dtype=torch.float64)


def gaussian_nll(train: torch.Tensor, test: torch.Tensor) -> float:
    """Held-out NLL (nats per point) of the maximum-likelihood Gaussian (mean, full covariance) of train."""
    mean, cov = train.double().mean(dim=0), torch.cov(train.double().T, correction=0)
    return -torch.distributions.MultivariateNormal(mean, cov).log_prob(test.double()).mean().item()
