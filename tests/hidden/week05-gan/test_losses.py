"""Hidden checks, week 5: the GAN losses from logits, saturation, and the discrete theory (D*, V, JSD).

Oracles (oracle.py): F.binary_cross_entropy_with_logits in float64 on the CPU, the closed-form derivatives of the
generator losses, and the closed forms of D*, V and the Jensen-Shannon divergence. Inputs are made on the CPU with
seeded generators and moved to each device; on a GPU the submission runs in float32 and is compared at 1e-4.
"""

import importlib.util
import math
from pathlib import Path

import pytest
import torch

from autograder.i18n import _

_spec = importlib.util.spec_from_file_location("week05_oracle", Path(__file__).with_name("oracle.py"))
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)
DEVICES = oracle.DEVICES


def _scalar(value, what: str) -> torch.Tensor:
    assert type(value) is torch.Tensor and value.numel() == 1, _("{what} should return a scalar torch.Tensor",
                                                                 what=what)
    return value.reshape(())


def _logits(g: torch.Generator, *shape: int, scale: float = 3.0) -> torch.Tensor:
    return torch.randn(*shape, generator=g, dtype=torch.float64) * scale


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_d_loss_matches_bce(submission, device):
    """d_loss is the mean BCE of real logits against 1 plus the mean BCE of fake logits against 0."""
    g = torch.Generator().manual_seed(500)
    dtype = oracle.dtype_for(device)
    for n, m, scale in ((5, 7, 3.0), (1, 1, 1.0), (16, 3, 20.0)):
        real, fake = _logits(g, n, scale=scale), _logits(g, m, scale=scale) - 1.0
        out = _scalar(submission.d_loss(real.to(device, dtype), fake.to(device, dtype)), "d_loss")
        assert oracle.close(out, oracle.d_loss(real, fake), device), \
            _("d_loss differs from binary cross-entropy with labels real = 1, fake = 0, each term a mean")
    real = torch.tensor([-800.0, 3.0], dtype=torch.float64)    # sigmoid rounds to 0 and 1 even in float64
    fake = torch.tensor([900.0, -1.0, 0.5], dtype=torch.float64)
    out = _scalar(submission.d_loss(real.to(device, dtype), fake.to(device, dtype)), "d_loss")
    assert oracle.close(out, oracle.d_loss(real, fake), device), \
        _("d_loss is not finite or not exact for very confident logits: compute it from logits, not probabilities")
    real, fake = _logits(g, 6, 1), _logits(g, 4, 1)
    out = _scalar(submission.d_loss(real.to(device, dtype), fake.to(device, dtype)), "d_loss on (N, 1) logits")
    assert oracle.close(out, oracle.d_loss(real, fake), device), _("d_loss should also accept logits of shape (N, 1)")


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_g_loss_non_saturating(submission, device):
    """g_loss(kind="non_saturating") is mean -log D(G(z)), and it is the default kind."""
    g = torch.Generator().manual_seed(501)
    dtype = oracle.dtype_for(device)
    for m, shift in ((6, 0.0), (9, -8.0), (1, 4.0)):
        fake = _logits(g, m) + shift
        expected = oracle.g_loss(fake, "non_saturating")
        out = _scalar(submission.g_loss(fake.to(device, dtype), "non_saturating"), "g_loss")
        assert oracle.close(out, expected, device), _("the non-saturating loss differs from mean -log sigmoid(logit)")
        out = _scalar(submission.g_loss(fake.to(device, dtype)), "g_loss")
        assert oracle.close(out, expected, device), _("g_loss's default kind should be the non-saturating loss")


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_g_loss_minimax(submission, device):
    """g_loss(kind="minimax") is mean log(1 - D(G(z))), the generator's term of the value function."""
    g = torch.Generator().manual_seed(502)
    dtype = oracle.dtype_for(device)
    for m, shift in ((6, 0.0), (9, -8.0), (2, 5.0)):
        fake = _logits(g, m) + shift
        out = _scalar(submission.g_loss(fake.to(device, dtype), "minimax"), "g_loss")
        assert oracle.close(out, oracle.g_loss(fake, "minimax"), device), \
            _("the minimax loss differs from mean log(1 - sigmoid(logit)) (mind the sign: the generator minimises it)")


@pytest.mark.points(2)
def test_generator_logit_grads_show_saturation(submission):
    """generator_logit_grads gives the per-sample derivatives -sigmoid(l) (minimax) and sigmoid(l) - 1."""
    g = torch.Generator().manual_seed(503)
    for logits in (_logits(g, 7), torch.tensor([-12.0, -6.0, 0.0, 6.0], dtype=torch.float64), _logits(g, 3, 2)):
        result = submission.generator_logit_grads(logits.clone())
        assert isinstance(result, (tuple, list)) and len(result) == 2, \
            _("generator_logit_grads should return a pair (minimax_grad, non_saturating_grad)")
        for value, expected, name in ((result[0], -torch.sigmoid(logits), "minimax"),
                                      (result[1], torch.sigmoid(logits) - 1, "non-saturating")):
            assert type(value) is torch.Tensor and tuple(value.shape) == tuple(logits.shape), \
                _("each gradient should be a tensor shaped like fake_logits")
            assert not value.requires_grad, _("return the gradients detached")
            assert oracle.close(value, expected, "cpu"), \
                _("the {name} gradient differs from the per-sample derivative of its loss (summed over the batch)",
                  name=name)


def _distributions(g: torch.Generator, K: int, zeros: int) -> tuple[torch.Tensor, torch.Tensor]:
    p, q = torch.rand(K, generator=g, dtype=torch.float64), torch.rand(K, generator=g, dtype=torch.float64)
    p[:zeros] = 0
    q[K - zeros:] = 0
    return p / p.sum(), q / q.sum()


@pytest.mark.points(1)
def test_optimal_discriminator(submission):
    """optimal_discriminator is p_data / (p_data + p_gen), and 1/2 where both are 0."""
    g = torch.Generator().manual_seed(504)
    for K, zeros in ((5, 0), (9, 2), (4, 1)):
        p, q = _distributions(g, K, zeros)
        out = submission.optimal_discriminator(p.clone(), q.clone())
        assert type(out) is torch.Tensor and tuple(out.shape) == (K,), \
            _("optimal_discriminator should return a (K,) tensor")
        assert oracle.close(out, p / (p + q), "cpu"), _("D* differs from p_data / (p_data + p_gen)")
    p, q = torch.tensor([0.0, 0.5, 0.5], dtype=torch.float64), torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    out = submission.optimal_discriminator(p, q)
    expected = torch.tensor([0.5, 1 / 3, 1.0], dtype=torch.float64)
    assert type(out) is torch.Tensor and oracle.close(out, expected, "cpu"), \
        _("where p_data and p_gen are both 0, D* should be 1/2 (and finite everywhere)")


@pytest.mark.points(2)
def test_gan_value_and_jsd(submission):
    """gan_value and jsd match their closed forms, and V(D*, G) = 2 JSD - log 4 on the check's D*."""
    g = torch.Generator().manual_seed(505)
    for K, zeros in ((5, 0), (9, 2), (6, 3)):
        p, q = _distributions(g, K, zeros)
        D = 0.05 + 0.9 * torch.rand(K, generator=g, dtype=torch.float64)
        value = submission.gan_value(p.clone(), q.clone(), D.clone())
        assert type(value) is float and math.isfinite(value), _("gan_value should return a finite Python float")
        assert abs(value - oracle.value(p, q, D)) < 1e-9, \
            _("gan_value differs from sum p_data log D + sum p_gen log(1 - D)")
        divergence = submission.jsd(p.clone(), q.clone())
        assert type(divergence) is float, _("jsd should return a Python float")
        assert abs(divergence - oracle.jsd(p, q)) < 1e-9, _("jsd differs from KL(p||m)/2 + KL(q||m)/2 in nats")
        d_star = p / (p + q)
        d_star = torch.where(torch.isnan(d_star), torch.full_like(d_star, 0.5), d_star)
        value = submission.gan_value(p.clone(), q.clone(), d_star)
        assert type(value) is float and abs(value - (2 * oracle.jsd(p, q) - math.log(4))) < 1e-9, \
            _("at the optimal discriminator gan_value should equal 2 JSD - log 4 (use 0 log 0 = 0)")
