"""Hidden checks, week 8: the stacked flow (flow_forward), its likelihood (flow_log_prob) and the sampler (sample).

The flows are drawn here (oracle.random_flow) with other depths, widths and dimensions than the notebook's. The
total log-determinant is compared with log|det J| of the oracle's whole flow by automatic differentiation; the
log-likelihood with the change-of-variables formula computed by the oracle; samples with the oracle's inverse flow
replayed on the check's own torch.Generator under the notebook's stream contract (one float64 randn(n, D)).
"""

import importlib.util
import math
from pathlib import Path

import pytest
import torch

from autograder.i18n import _

_spec = importlib.util.spec_from_file_location("week08_oracle", Path(__file__).with_name("oracle.py"))
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)
DEVICES = oracle.DEVICES
CASES = ((2, 6, 10), (3, 3, 8), (2, 1, 5), (4, 5, 7))   # (D, layers, hidden width)


def _generator(submission, seed: int):
    g = submission.make_object("torch.Generator")
    g.manual_seed(seed)
    return g


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_flow_forward(submission, device):
    """flow_forward runs the layers in order with alternating masks and sums the log-determinants at each layer's input.

    The total is compared with log|det J| of the oracle's whole flow (torch.autograd.functional.jacobian and
    torch.linalg.slogdet), z with the oracle's forward pass.
    """
    g = torch.Generator().manual_seed(811)
    dtype = oracle.dtype_for(device)
    for dim, num_layers, hidden in CASES:
        params = oracle.random_flow(g, num_layers, dim, hidden)
        flow = oracle.Flow(params)
        x = torch.randn(10, dim, generator=g, dtype=torch.float64) * 1.5
        result = submission.flow_forward(oracle.send(params, device), x.to(device, dtype))
        assert isinstance(result, (tuple, list)) and len(result) == 2, \
            _("flow_forward should return (z, total_log_det)")
        with torch.no_grad():
            z = flow.forward(x)[0]
        assert oracle.close(result[0], z, device), \
            _("D = {dim}, {num_layers} layers: z differs from the layers applied in order 0, 1, ... with the masks " \
              "layer_mask(k, D)", dim=dim, num_layers=num_layers)
        assert oracle.close(result[1], oracle.jacobian_log_det(lambda v, f=flow: f.forward(v)[0], x), device,
                            rtol=1e-8, atol=1e-10), \
            _("D = {dim}, {num_layers} layers: the total log-determinant differs from log|det| of the flow's Jacobian",
              dim=dim, num_layers=num_layers)


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_flow_log_prob(submission, device):
    """flow_log_prob is log N(f(x); 0, I) + the summed log-determinants (change of variables), in nats per point."""
    g = torch.Generator().manual_seed(812)
    dtype = oracle.dtype_for(device)
    for dim, num_layers, hidden in CASES:
        params = oracle.random_flow(g, num_layers, dim, hidden)
        x = torch.randn(20, dim, generator=g, dtype=torch.float64) * 1.5
        out = submission.flow_log_prob(oracle.send(params, device), x.to(device, dtype))
        assert type(out) is torch.Tensor and tuple(out.shape) == (20,), \
            _("flow_log_prob should return one log-density per row, shape (B,)")
        assert oracle.close(out, oracle.Flow(params).log_prob(x), device), \
            _("D = {dim}, {num_layers} layers: flow_log_prob differs from log N(f(x); 0, I) + log|det J| " \
              "(change of variables; the Gaussian's constant is -D/2 log 2 pi)", dim=dim, num_layers=num_layers)
    # an identity flow (zero output layers) is the standard Gaussian, whatever the hidden layers
    params = oracle.random_flow(g, 3, 2, 6)
    for layer in params:
        layer["net.4.weight"].zero_()
        layer["net.4.bias"].zero_()
    x = torch.randn(9, 2, generator=g, dtype=torch.float64)
    out = submission.flow_log_prob(oracle.send(params, device), x.to(device, dtype))
    assert oracle.close(out, -0.5 * (x ** 2).sum(dim=1) - math.log(2 * math.pi), device), \
        _("a flow whose layers are the identity should give the standard Gaussian's log-density")


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_sample(submission, device):
    """sample draws z = randn(n, D, float64) from the generator and runs the inverse layers L-1, ..., 0 exactly.

    On the CPU also with float32 parameters: the samples come back in float32, so the noise and every layer's mask
    follow the parameters' dtype (a float64 mask left on the CPU works with float64 CPU parameters only: it mixes
    dtypes in the conditioner on float32, and devices on a GPU).
    """
    g = torch.Generator().manual_seed(813)
    for (dim, num_layers, hidden), (n, seed) in zip(CASES, ((25, 5), (7, 6), (40, 7), (18, 8)), strict=True):
        params = oracle.random_flow(g, num_layers, dim, hidden)
        expected = oracle.Flow(params).sample(n, torch.Generator().manual_seed(seed))
        out = submission.sample(oracle.send(params, device), n, _generator(submission, seed))
        assert type(out) is torch.Tensor and tuple(out.shape) == (n, dim), \
            _("sample should return (n, D) samples (n = {n}, D = {dim})", n=n, dim=dim)
        assert out.device.type == device and out.dtype == oracle.dtype_for(device), \
            _("sample should return its samples on the device and in the dtype of the parameters")
        assert oracle.close(out, expected, device), \
            _("D = {dim}, {num_layers} layers: the samples differ from the inverse flow (layers L-1 down to 0) " \
              "applied to one float64 torch.randn(n, D) draw from the generator", dim=dim, num_layers=num_layers)
    if device == "cpu":
        params = oracle.random_flow(g, 4, 3, 9)
        expected = oracle.Flow(params).sample(30, torch.Generator().manual_seed(9))
        out = submission.sample([{key: value.float() for key, value in layer.items()} for layer in params], 30,
                                _generator(submission, 9))
        assert type(out) is torch.Tensor and tuple(out.shape) == (30, 3) and out.dtype == torch.float32, \
            _("with float32 parameters on the CPU, sample should return float32 samples of shape (n, D): move the "
              "noise and every layer's mask to the device and dtype of the parameters")
        assert oracle.close(out, expected, device, rtol=1e-4, atol=1e-4), \
            _("with float32 parameters on the CPU, the samples differ from the inverse flow applied to the "
              "generator's float64 noise (to float32 precision)")
