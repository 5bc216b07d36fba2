"""Hidden checks, week 8: the affine coupling layer (coupling_forward, coupling_inverse, log_det).

Each layer is drawn here (oracle.random_layer: every weight and bias non-zero, log-scales of order 1) for dimensions
2, 3 and 5 and both mask parities. The layer is compared with this folder's oracle (PyTorch's nn.Sequential in
float64); the inverse also by a round trip through the submission's own forward to 1e-10; the log-determinant with
log|det J| of the oracle's layer, J from torch.autograd.functional.jacobian and the determinant from
torch.linalg.slogdet, both computed here.
"""

import importlib.util
from pathlib import Path

import pytest
import torch

from autograder.i18n import _

_spec = importlib.util.spec_from_file_location("week08_oracle", Path(__file__).with_name("oracle.py"))
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)
DEVICES = oracle.DEVICES
CASES = ((2, 0, 10), (2, 1, 7), (3, 1, 9), (5, 0, 12), (5, 3, 6))   # (D, layer index k, hidden width)


def _layer(g: torch.Generator, dim: int, hidden: int, device: str) -> tuple[dict, dict]:
    params = oracle.random_layer(g, dim, hidden, scale=1.5)
    return params, {key: value.to(device, oracle.dtype_for(device), copy=True) for key, value in params.items()}


@pytest.mark.points(1)
@pytest.mark.parametrize("device", DEVICES)
def test_coupling_forward(submission, device):
    """coupling_forward copies the kept coordinates exactly and scales and shifts the others by exp(s) and t."""
    g = torch.Generator().manual_seed(801)
    dtype = oracle.dtype_for(device)
    for dim, k, hidden in CASES:
        params, sent = _layer(g, dim, hidden, device)
        b = oracle.mask(k, dim)
        x = torch.randn(17, dim, generator=g, dtype=torch.float64) * 1.5
        out = submission.coupling_forward(sent, x.to(device, dtype), b.to(device, dtype))
        assert type(out) is torch.Tensor and tuple(out.shape) == (17, dim), \
            _("coupling_forward should return a (B, D) tensor (D = {dim})", dim=dim)
        assert out.device.type == device and out.dtype == dtype, \
            _("coupling_forward should keep the device and dtype of x")
        kept = b.bool()
        if device == "cpu":
            assert torch.equal(out.detach()[:, kept], x[:, kept]), \
                _("D = {dim}, mask of layer {k}: the kept coordinates (mask 1) should be copied exactly", dim=dim, k=k)
        assert oracle.close(out, oracle.Layer(params).forward(x, b), device), \
            _("D = {dim}, mask of layer {k}: the transformed coordinates should be x * exp(s) + t, with s and t " \
              "from conditioner(layer, mask * x)", dim=dim, k=k)


@pytest.mark.points(1)
@pytest.mark.parametrize("device", DEVICES)
def test_coupling_inverse(submission, device):
    """coupling_inverse is the exact inverse: it undoes the layer, and inverse(forward(x)) gives x back to 1e-10."""
    g = torch.Generator().manual_seed(802)
    dtype = oracle.dtype_for(device)
    for dim, k, hidden in CASES:
        params, sent = _layer(g, dim, hidden, device)
        b = oracle.mask(k, dim)
        layer = oracle.Layer(params)
        y = torch.randn(15, dim, generator=g, dtype=torch.float64) * 2
        out = submission.coupling_inverse(sent, y.to(device, dtype), b.to(device, dtype))
        assert oracle.close(out, layer.inverse(y, b), device), \
            _("D = {dim}, mask of layer {k}: coupling_inverse does not undo the coupling layer", dim=dim, k=k)
        assert out.device.type == device and out.dtype == dtype, \
            _("coupling_inverse should keep the device and dtype of y")
        if device == "cpu":
            x = torch.randn(15, dim, generator=g, dtype=torch.float64) * 2
            forward = submission.coupling_forward(sent, x, b)
            back = submission.coupling_inverse(sent, forward, b)
            assert type(back) is torch.Tensor and tuple(back.shape) == (15, dim) \
                and float((back.detach().double() - x).abs().max()) < 1e-10, \
                _("D = {dim}: in float64, coupling_inverse(coupling_forward(x)) should give x back to 1e-10", dim=dim)


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_log_det_matches_the_jacobian(submission, device):
    """log_det equals log|det J| of the layer, J computed by automatic differentiation, saturated scales included."""
    g = torch.Generator().manual_seed(803)
    dtype = oracle.dtype_for(device)
    for (dim, k, hidden), scale in zip(CASES, (1.5, 1.0, 40.0, 1.5, 3.0), strict=True):
        params = oracle.random_layer(g, dim, hidden, scale=scale)
        sent = {key: value.to(device, dtype, copy=True) for key, value in params.items()}
        b = oracle.mask(k, dim)
        x = torch.randn(12, dim, generator=g, dtype=torch.float64) * 1.5
        expected = oracle.jacobian_log_det(lambda v, p=params, m=b: oracle.Layer(p).forward(v, m), x)
        out = submission.log_det(sent, x.to(device, dtype), b.to(device, dtype))
        assert type(out) is torch.Tensor and tuple(out.shape) == (12,), \
            _("log_det should return one number per row, shape (B,)")
        assert oracle.close(out, expected, device, rtol=1e-8, atol=1e-10), \
            _("D = {dim}, mask of layer {k}: log_det differs from log|det| of the layer's Jacobian", dim=dim, k=k)
