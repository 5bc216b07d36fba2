"""Hidden checks, week 2: gradient-norm clipping as a plain-data function.

Oracle: torch.nn.utils.clip_grad_norm_ on parameters holding the same gradients (one parameter without a
gradient), float64 on the CPU: one factor min(1, max_norm / (total + 1e-6)) for all gradients, None skipped, the
pre-clip total returned.
"""

import pytest
import torch

from autograder.i18n import _

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
SHAPES = [(3, 4), None, (5,), (2, 2, 2)]          # None: a parameter that received no gradient


def _dtype(device):
    return torch.float64 if device == "cpu" else torch.float32


def _close(actual, expected, device):
    rtol, atol = (1e-6, 1e-9) if device == "cpu" else (1e-4, 1e-6)
    actual = actual.detach().cpu().to(torch.float64)
    return bool(torch.isfinite(actual).all()) and torch.allclose(actual, expected, rtol=rtol, atol=atol)


def _grads(seed, scale):
    g = torch.Generator().manual_seed(seed)
    return [None if s is None else torch.randn(*s, generator=g, dtype=torch.float64) * scale for s in SHAPES]


def _oracle(grads, max_norm):
    """(clipped gradients, total norm) from torch.nn.utils.clip_grad_norm_."""
    params = []
    for grad, shape in zip(grads, SHAPES, strict=True):
        p = torch.nn.Parameter(torch.zeros(shape or (2,), dtype=torch.float64))
        p.grad = None if grad is None else grad.clone()
        params.append(p)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return [p.grad for p in params], float(total)


def _call(submission, grads, max_norm, device, watch=False):
    """clip_grad_norm's (clipped, total) after checking their format; ``watch``: also fail when the call changed
    the gradients it was given (the runner compares them before and after the call)."""
    sent = [None if g is None else g.to(device, _dtype(device), copy=True) for g in grads]
    if watch:
        report = submission.watch("clip_grad_norm")(sent, max_norm)
        report.assert_unchanged(["grads"], "the docstring says the input tensors are not modified: return new "
                                           "tensors (g * scale), do not scale in place (g.mul_(scale))")
        result = report.value
    else:
        result = submission.clip_grad_norm(sent, max_norm)
    assert isinstance(result, (tuple, list)) and len(result) == 2, \
        _("clip_grad_norm should return a pair (clipped, total_norm)")
    clipped, total = result
    assert isinstance(clipped, (list, tuple)) and len(clipped) == len(grads), \
        _("clipped should be a list with one entry per gradient")
    for k, (out, grad) in enumerate(zip(clipped, grads, strict=True)):
        if grad is None:
            assert out is None, _("entry {k} had no gradient (None) and should stay None", k=k)
            continue
        assert type(out) is torch.Tensor, _("entry {k} of clipped should be a torch.Tensor", k=k)
        assert tuple(out.shape) == tuple(grad.shape), _("entry {k} of clipped should keep its gradient's shape", k=k)
        assert out.dtype == _dtype(device), _("entry {k} of clipped should keep its gradient's dtype", k=k)
    return clipped, total


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_clip_matches_torch(submission, device):
    """Gradients above max_norm are all scaled by one common factor, like nn.utils.clip_grad_norm_ (None kept),
    into new tensors: the gradients passed in are left unchanged."""
    grads = _grads(230, scale=3.0)
    ref, _unused = _oracle(grads, max_norm=2.5)
    clipped, _unused = _call(submission, grads, 2.5, device, watch=True)
    for k, (out, expected) in enumerate(zip(clipped, ref, strict=True)):
        if expected is not None:
            assert _close(out, expected, device), \
                _("clipped gradient {k} differs from nn.utils.clip_grad_norm_: scale all gradients by one factor "
                  "from their total norm", k=k)


@pytest.mark.points(1)
def test_clip_tiny_gradients(submission):
    """The factor is max_norm / (total + 1e-6) exactly as nn.utils.clip_grad_norm_ has it, which matters when the
    norms are tiny: gradients of total norm about 5e-6 clipped to 1e-6 are scaled by about 1/6, not 1/4."""
    grads = _grads(233, scale=1e-6)
    ref, _unused = _oracle(grads, max_norm=1e-6)
    clipped, _unused = _call(submission, grads, 1e-6, "cpu")
    for k, (out, expected) in enumerate(zip(clipped, ref, strict=True)):
        if expected is not None:
            assert torch.allclose(out.detach().to(torch.float64), expected, rtol=1e-6, atol=0), \
                _("with tiny gradients, clipped gradient {k} differs from nn.utils.clip_grad_norm_: scale by "
                  "max_norm / (total_norm + 1e-6)", k=k)


@pytest.mark.points(1)
@pytest.mark.parametrize("device", DEVICES)
def test_clip_returns_preclip_norm(submission, device):
    """The returned total norm is the 2-norm of all gradients together, before clipping, as a float."""
    grads = _grads(231, scale=2.0)
    _unused, ref_total = _oracle(grads, max_norm=1.0)
    _unused, total = _call(submission, grads, 1.0, device)
    assert isinstance(total, float), _("the total norm should be a Python float")
    assert abs(total - ref_total) <= 1e-5 * ref_total, \
        _("the returned total norm is off: it should be the norm of all gradients together, measured before clipping")


@pytest.mark.points(1)
@pytest.mark.parametrize("device", DEVICES)
def test_clip_leaves_small_gradients_unchanged(submission, device):
    """Gradients whose total norm is below max_norm come back unchanged; no gradients at all give a norm of 0."""
    grads = _grads(232, scale=0.1)
    _unused, ref_total = _oracle(grads, max_norm=50.0)
    clipped, total = _call(submission, grads, 50.0, device)
    for k, (out, grad) in enumerate(zip(clipped, grads, strict=True)):
        if grad is not None:
            assert _close(out, grad, device), _("gradient {k} changed although the total norm was below max_norm", k=k)
    assert isinstance(total, float) and abs(total - ref_total) <= 1e-5 * ref_total, \
        _("the total norm should be returned (as a float) even when nothing is clipped")
    result = submission.clip_grad_norm([None, None], 1.0)
    assert isinstance(result, (tuple, list)) and len(result) == 2, _("clip_grad_norm should return a pair")
    assert list(result[0]) == [None, None], _("with only None gradients, clipped should be [None, None]")
    assert isinstance(result[1], float) and result[1] == 0.0, _("with no gradients at all the total norm is 0.0")
