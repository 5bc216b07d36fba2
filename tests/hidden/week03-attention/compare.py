"""Week 3's comparisons, shared by both check files: tolerances per device, and the real cause of a mismatch where
it is cheap to see (float32 precision, a transpose, heads in another order)."""

import torch

from autograder.i18n import _

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def dtype_for(device):
    # float64 on the CPU; float32 on a GPU (the realistic case, and the one TF32 can touch)
    return torch.float64 if device == "cpu" else torch.float32


def close(actual, expected, device):
    """actual (any device/dtype) against a CPU float64 oracle; tolerances that hold under TF32 on a GPU. A mismatch
    with a cheap-to-see cause (diagnosis) fails the check with that cause instead of the caller's message."""
    rtol, atol = (1e-6, 1e-9) if device == "cpu" else (2e-3, 2e-3)
    actual = actual.detach().cpu().to(torch.float64)
    if not bool(torch.isfinite(actual).all()):
        return False
    if torch.allclose(actual, expected, rtol=rtol, atol=atol) if actual.shape == expected.shape else False:
        return True
    cause = diagnosis(actual, expected, device)
    assert not cause, cause
    return False


def diagnosis(actual, expected, device):
    """The real cause of a mismatch, where it is cheap to see: a float64 result right only to float32 precision,
    a result that is the expected one with its last two axes swapped, or per-head results in another head order
    (axis 1 of a (B, h, L, S) tensor). Empty when none of these explains it."""
    if device == "cpu" and actual.shape == expected.shape and torch.allclose(actual, expected, rtol=1e-4, atol=1e-6):
        return _("the result is correct only to about 1e-6, the precision of float32: compute in the inputs' dtype "
                 "(float64 here) throughout, without .float() or float32 tensors of your own")
    rtol, atol = (1e-6, 1e-9) if device == "cpu" else (2e-3, 2e-3)
    swapped = expected.transpose(-1, -2)
    if expected.dim() >= 2 and actual.shape == swapped.shape and torch.allclose(actual, swapped, rtol=rtol, atol=atol):
        return _("the result is the expected one transposed (its last two axes swapped): check which axis is which")
    if expected.dim() == 4 and actual.shape == expected.shape and expected.shape[1] > 1:
        heads = range(expected.shape[1])
        order = [next((j for j in heads if torch.allclose(actual[:, i], expected[:, j], rtol=rtol, atol=atol)), None)
                 for i in heads]
        if None not in order and sorted(order) == list(heads) and order != list(heads):
            return _("the heads come out in another order: head j should use the columns [j*d, (j+1)*d) of the "
                     "projected queries, keys and values")
    return ""


def randn(g, *shape):
    return torch.randn(*shape, generator=g, dtype=torch.float64)
