"""Hidden checks, week 7: the schedule, the forward process q(x_t | x_0) and the posterior q(x_{t-1} | x_t, x_0).

make_schedule is compared with this folder's oracle (ᾱ as a product of Python floats); q_sample exactly with the
closed form at the check's indices (index 0 included, where ᾱ = 1 - β_1), and in distribution with the one-step
forward process iterated here with the check's own draws; posterior_mean_var with Bayes' rule computed here in
float64 (precisions add), including index 0, where the posterior is the point mass at x_0.
"""

import importlib.util
import math
from pathlib import Path

import pytest
import torch

from autograder.harness.feedback import SubmissionError
from autograder.i18n import _

_spec = importlib.util.spec_from_file_location("week07_oracle", Path(__file__).with_name("oracle.py"))
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)
DEVICES = oracle.DEVICES
KEYS = {"betas", "alphas", "alphas_cumprod"}
SCHEDULE_DEFAULTS = {"beta_1": 1e-3, "beta_T": 0.2, "kind": "linear"}


def _schedule(value, T: int) -> dict:
    assert isinstance(value, dict) and set(value) == KEYS, \
        _("make_schedule should return a dict with exactly the keys betas, alphas and alphas_cumprod")
    for key in KEYS:
        assert type(value[key]) is torch.Tensor and tuple(value[key].shape) == (T,) \
            and value[key].dtype == torch.float64, _("make_schedule's {key} should be a float64 tensor of shape (T,)",
                                                     key=key)
    return {key: value[key].detach().cpu() for key in KEYS}


def _matches(actual: dict, expected: dict) -> bool:
    return all(torch.allclose(actual[k], expected[k], rtol=1e-10, atol=1e-13) for k in KEYS)


@pytest.mark.points(1)
def test_make_schedule_linear(submission):
    """make_schedule's linear schedule: betas, alphas and their running product alphas_cumprod."""
    for T, beta_1, beta_T in ((100, 1e-3, 0.2), (1000, 1e-4, 0.02), (7, 0.05, 0.35), (2, 0.1, 0.3)):
        got = _schedule(submission.make_schedule(T, beta_1, beta_T, "linear"), T)
        assert torch.allclose(got["betas"], oracle.schedule(T, beta_1, beta_T)["betas"], rtol=1e-10, atol=1e-13), \
            _("linear schedule, T = {T}: betas should be evenly spaced from beta_1 to beta_T", T=T)
        assert _matches(got, oracle.schedule(T, beta_1, beta_T)), \
            _("linear schedule, T = {T}: alphas = 1 - betas and alphas_cumprod = their running product", T=T)


@pytest.mark.points(1)
def test_make_schedule_cosine(submission):
    """make_schedule's cosine schedule (Nichol & Dhariwal: s = 0.008, betas clipped at 0.999)."""
    for T in (100, 40, 1000):
        got = _schedule(submission.make_schedule(T, 1e-3, 0.2, "cosine"), T)
        assert _matches(got, oracle.schedule(T, kind="cosine")), \
            _("cosine schedule, T = {T}: betas = 1 - f(t)/f(t-1), clipped at 0.999; alphas_cumprod their product", T=T)


@pytest.mark.points(1)
def test_make_schedule_unknown_kind(submission):
    """make_schedule raises ValueError (or an error derived from it) for a kind other than linear and cosine."""
    for kind in ("quadratic", "Linear", ""):
        try:
            value = submission.make_schedule(10, 1e-3, 0.2, kind)
        except SubmissionError as error:
            assert "ValueError" in (error.error_type, error.builtin_type), \
                _("make_schedule(..., kind={kind!r}) raised {error_type}: the docstring asks for ValueError",
                  kind=kind, error_type=error.error_type)
        else:
            raise AssertionError(_("make_schedule(..., kind={kind!r}) returned {what} instead of raising ValueError "
                                   "for a kind other than 'linear' and 'cosine'", kind=kind,
                                   what=type(value).__name__))


@pytest.mark.points(1)
@pytest.mark.parametrize("device", DEVICES)
def test_q_sample_closed_form(submission, device):
    """q_sample is sqrt(abar_t) x0 + sqrt(1 - abar_t) eps at every row's own index, index 0 and T-1 included."""
    g = torch.Generator().manual_seed(701)
    dtype = oracle.dtype_for(device)
    for T, beta_1, beta_T, D in ((50, 0.004, 0.3, 2), (1000, 1e-4, 0.02, 3)):
        sched = oracle.schedule(T, beta_1, beta_T)
        t = torch.cat([torch.tensor([0, T - 1, 1]), torch.randint(0, T, (13,), generator=g)])
        x0 = torch.randn(16, D, generator=g, dtype=torch.float64) * 2
        eps = torch.randn(16, D, generator=g, dtype=torch.float64)
        out = submission.q_sample(x0.to(device, dtype), t.to(device), eps.to(device, dtype), sched)
        assert oracle.close(out, oracle.q_sample(x0, t, eps, sched), device), \
            _("q_sample differs from sqrt(abar_t) x0 + sqrt(1 - abar_t) eps (T = {T}; index 0 is the first step)", T=T)
        assert out.device.type == device and out.dtype == dtype, _("q_sample should keep the device and dtype of x0")


@pytest.mark.points(1)
def test_q_sample_matches_iterated_forward_process(submission):
    """q_sample's draws have the mean and variance of the one-step forward process iterated t times."""
    g = torch.Generator().manual_seed(702)
    sched = oracle.schedule(60, 0.002, 0.25)
    n = 6000
    for i, start in ((0, (2.0, -1.0)), (4, (-1.5, 0.5)), (25, (1.0, 1.0)), (59, (3.0, 0.0))):
        x0 = torch.tensor([start], dtype=torch.float64).repeat(n, 1)
        eps = torch.randn(n, 2, generator=g, dtype=torch.float64)
        jump = torch.as_tensor(submission.q_sample(x0, torch.full((n,), i), eps, sched))
        assert jump.shape == (n, 2) and bool(torch.isfinite(jump).all()), _("q_sample should return (B, D) finite "
                                                                            "values")
        jump = jump.double()
        steps = oracle.iterate_forward(x0, i, sched, g)
        var_true = 1 - float(sched["alphas_cumprod"][i])
        se_mean = math.sqrt(2 * var_true / n)
        se_var = var_true * math.sqrt(4 / (n - 1))
        assert bool(((jump.mean(0) - steps.mean(0)).abs() < 6 * se_mean).all()), \
            _("after {i_1} forward steps the mean of q_sample's draws is not that of the step-by-step process",
              i_1=i + 1)
        assert bool(((jump.var(0) - steps.var(0)).abs() < 6 * se_var).all()), \
            _("after {i_1} forward steps the variance of q_sample's draws is not that of the step-by-step process",
              i_1=i + 1)


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_posterior_matches_bayes_rule(submission, device):
    """posterior_mean_var is q(x_{t-1} | x_t, x_0) by Bayes' rule, with abar_{t-1} = 1 at index 0."""
    g = torch.Generator().manual_seed(703)
    dtype = oracle.dtype_for(device)
    for T, beta_1, beta_T in ((40, 0.005, 0.3), (1000, 1e-4, 0.02)):
        sched = oracle.schedule(T, beta_1, beta_T)
        t = torch.cat([torch.tensor([0, 1, T - 1, 0]), torch.randint(0, T, (12,), generator=g)])
        x0 = torch.randn(16, 2, generator=g, dtype=torch.float64) * 2
        xt = torch.randn(16, 2, generator=g, dtype=torch.float64)
        result = submission.posterior_mean_var(x0.to(device, dtype), xt.to(device, dtype), t.to(device), sched)
        assert isinstance(result, (tuple, list)) and len(result) == 2, _("posterior_mean_var should return (mean, var)")
        mean, var = oracle.posterior_bayes(x0, xt, t, sched)
        assert oracle.close(result[0], mean, device), \
            _("the posterior mean differs from Bayes' rule (T = {T}; at index 0 the posterior is x0 itself)", T=T)
        assert oracle.close(result[1], var, device, atol=1e-13), \
            _("the posterior variance (one number per row, shape (B,)) differs from Bayes' rule (T = {T})", T=T)


@pytest.mark.points(1)
def test_make_schedule_defaults(submission):
    """make_schedule(T) uses the documented defaults beta_1 = 1e-3, beta_T = 0.2 and kind = "linear"."""
    for T in (100, 9):
        documented = _schedule(submission.make_schedule(T, **SCHEDULE_DEFAULTS), T)
        for left_out, kwargs in oracle.omitting_each(SCHEDULE_DEFAULTS):
            got = _schedule(submission.make_schedule(T, **kwargs), T)
            assert all(torch.equal(got[k], documented[k]) for k in KEYS), \
                _("make_schedule without {left_out} should use its documented default (beta_1 = 1e-3, beta_T = 0.2, "
                  "kind = 'linear'): keep the defaults of the signature you were given", left_out=left_out)


@pytest.mark.points(1)
def test_float32_inputs_keep_float32(submission):
    """q_sample and posterior_mean_var answer in the dtype of x0: float32 inputs on the CPU give float32 results.

    The schedule is float64; the notebook asks to move the picked values to x0's device and dtype, so a float32
    batch (what training sends) is not promoted to float64. Values are checked in float64 by the checks above."""
    g = torch.Generator().manual_seed(704)
    sched = oracle.schedule(40, 0.005, 0.3)
    t = torch.cat([torch.tensor([0, 39]), torch.randint(0, 40, (10,), generator=g)])
    x0, xt, eps = (torch.randn(12, 2, generator=g) for _i in range(3))
    out = submission.q_sample(x0, t, eps, sched)
    assert type(out) is torch.Tensor and tuple(out.shape) == (12, 2) and out.dtype == torch.float32, \
        _("q_sample on float32 x0 and eps should return float32 values of shape (B, D): move abar to x0's dtype")
    result = submission.posterior_mean_var(x0, xt, t, sched)
    assert isinstance(result, (tuple, list)) and len(result) == 2, _("posterior_mean_var should return (mean, var)")
    mean, var = result
    assert type(mean) is torch.Tensor and tuple(mean.shape) == (12, 2) and mean.dtype == torch.float32, \
        _("posterior_mean_var on float32 inputs should return a float32 mean of shape (B, D): move the schedule's "
          "values to x0's dtype")
    assert type(var) is torch.Tensor and tuple(var.shape) == (12,) and var.dtype == torch.float32, \
        _("posterior_mean_var on float32 inputs should return a float32 variance of shape (B,)")
