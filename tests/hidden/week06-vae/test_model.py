"""Hidden checks, week 6: the forward pass, the reparameterisation, the two loss terms, the negative ELBO and its
gradients, and the Monte-Carlo KL, each compared with a float64 oracle built from PyTorch's own layers,
`torch.distributions` and `F.binary_cross_entropy_with_logits` (oracle.py). Inputs are drawn here with seeded CPU
generators and moved to the device under test.
"""

import importlib.util
import math
from pathlib import Path

import pytest
import torch
from torch.distributions import Normal

from autograder.i18n import _

_spec = importlib.util.spec_from_file_location("week06_oracle", Path(__file__).with_name("oracle.py"))
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)
DEVICES = oracle.DEVICES


def _tensor(value, shape: tuple[int, ...], name: str) -> torch.Tensor:
    """value as a float tensor of `shape` (checked before anything else touches it)."""
    assert type(value) is torch.Tensor, _("{name} should return a torch.Tensor", name=name)
    assert tuple(value.shape) == shape, _("{name} should return a tensor of shape {shape} here", name=name, shape=shape)
    assert value.is_floating_point(), _("{name} should return a floating-point tensor", name=name)
    return value


def _pair(value, shape: tuple[int, ...], name: str) -> tuple[torch.Tensor, torch.Tensor]:
    assert isinstance(value, (tuple, list)) and len(value) == 2, _("{name} should return a pair (mu, logvar)",
                                                                   name=name)
    return _tensor(value[0], shape, name), _tensor(value[1], shape, name)


def _binary(g: torch.Generator, B: int, D: int) -> torch.Tensor:
    return (torch.rand(B, D, generator=g) < 0.3).to(torch.float64)


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_encode_matches_linear_layers(submission, device):
    """encode gives mu and logvar of ReLU(enc(x)) through the mu and logvar layers (nn.Linear layout)."""
    g = torch.Generator().manual_seed(601)
    for B, D, H, L in ((5, 64, 32, 8), (3, 10, 7, 2), (1, 6, 4, 3)):
        params = oracle.random_vae(g, D, H, L)
        x = _binary(g, B, D)
        mu, logvar = _pair(submission.encode(x.to(device, oracle.dtype_for(device)), oracle.send(params, device)),
                           (B, L), "encode")
        ref_mu, ref_logvar = oracle.encode(x, params)
        assert oracle.close(mu, ref_mu, device), \
            _("encode (D={D}, H={H}, L={L}): mu differs from ReLU(x W_enc^T + b_enc) W_mu^T + b_mu", D=D, H=H, L=L)
        assert oracle.close(logvar, ref_logvar, device), \
            _("encode (D={D}, H={H}, L={L}): logvar differs from ReLU(x W_enc^T + b_enc) W_logvar^T + b_logvar",
              D=D, H=H, L=L)


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_decode_returns_logits(submission, device):
    """decode gives the Bernoulli logits out(ReLU(dec(z))), any real numbers, not probabilities."""
    g = torch.Generator().manual_seed(602)
    for B, D, H, L in ((6, 64, 32, 8), (2, 9, 5, 2)):
        params = oracle.random_vae(g, D, H, L, scale=4.0)
        z = torch.randn(B, L, generator=g, dtype=torch.float64) * 2
        logits = _tensor(submission.decode(z.to(device, oracle.dtype_for(device)), oracle.send(params, device)),
                         (B, D), "decode")
        assert oracle.close(logits, oracle.decode(z, params), device), \
            _("decode (D={D}, H={H}, L={L}) differs from ReLU(z W_dec^T + b_dec) W_out^T + b_out: return logits, "
              "with no sigmoid", D=D, H=H, L=L)


@pytest.mark.points(1)
@pytest.mark.parametrize("device", DEVICES)
def test_reparameterize_values(submission, device):
    """reparameterize gives mu + exp(logvar / 2) * eps, and exactly mu when eps = 0."""
    g = torch.Generator().manual_seed(603)
    mu = torch.randn(7, 5, generator=g, dtype=torch.float64)
    logvar = torch.randn(7, 5, generator=g, dtype=torch.float64) * 1.5
    eps = torch.randn(7, 5, generator=g, dtype=torch.float64)
    dt = oracle.dtype_for(device)
    z = _tensor(submission.reparameterize(mu.to(device, dt), logvar.to(device, dt), eps.to(device, dt)),
                (7, 5), "reparameterize")
    assert oracle.close(z, mu + (0.5 * logvar).exp() * eps, device), \
        _("reparameterize differs from mu + sigma * eps: sigma is the standard deviation exp(logvar / 2)")
    z0 = _tensor(submission.reparameterize(mu.to(device, dt), logvar.to(device, dt), torch.zeros(7, 5, device=device,
                                                                                                 dtype=dt)),
                 (7, 5), "reparameterize")
    assert oracle.close(z0, mu, device), _("with eps = 0, reparameterize should return mu")


@pytest.mark.points(1)
def test_reparameterize_keeps_the_graph(submission):
    """reparameterize's result stays connected to mu and to logvar, each on its own (nothing detached).

    The check sends mu and logvar with requires_grad set, one at a time, and reads whether the returned z requires
    grad (the flag crosses the boundary with the tensor). The gradient values themselves are judged by
    test_neg_elbo_grads_match_autograd.
    """
    g = torch.Generator().manual_seed(604)
    mu = torch.randn(4, 3, generator=g, dtype=torch.float64)
    logvar = torch.randn(4, 3, generator=g, dtype=torch.float64)
    eps = torch.randn(4, 3, generator=g, dtype=torch.float64)
    for name, a, b in (("mu", mu.clone().requires_grad_(True), logvar),
                       ("logvar", mu, logvar.clone().requires_grad_(True))):
        z = _tensor(submission.reparameterize(a, b, eps), (4, 3), "reparameterize")
        assert z.requires_grad, _("the result of reparameterize does not depend differentiably on {name}: the "
                                  "gradient cannot reach the encoder (nothing may be detached, no torch.no_grad)",
                                  name=name)


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_gaussian_kl_matches_torch_distributions(submission, device):
    """gaussian_kl equals kl_divergence of Independent Normals, one value per row, summed over latent dimensions."""
    g = torch.Generator().manual_seed(605)
    cases = [(torch.zeros(2, 3, dtype=torch.float64), torch.zeros(2, 3, dtype=torch.float64))]
    cases += [(torch.randn(B, L, generator=g, dtype=torch.float64) * s, torch.randn(B, L, generator=g,
                                                                                  dtype=torch.float64) * s)
              for B, L, s in ((6, 8, 1.0), (3, 2, 2.5), (1, 5, 0.3))]
    dt = oracle.dtype_for(device)
    for mu, logvar in cases:
        B, L = mu.shape
        kl = _tensor(submission.gaussian_kl(mu.to(device, dt), logvar.to(device, dt)), (B,), "gaussian_kl")
        assert oracle.close(kl, oracle.gaussian_kl(mu, logvar), device), \
            _("gaussian_kl (B={B}, L={L}) differs from KL(N(mu, exp(logvar)) || N(0, I)) of each row: 0.5 * (sigma^2 "
              "+ mu^2 - 1 - log sigma^2), summed over the latent dimensions", B=B, L=L)


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_bernoulli_nll_matches_bce_with_logits(submission, device):
    """bernoulli_nll equals BCE-with-logits summed over pixels, also for confident wrong logits (+-30, +-200)."""
    g = torch.Generator().manual_seed(606)
    dt = oracle.dtype_for(device)
    x = _binary(g, 5, 12)
    cases = [torch.randn(5, 12, generator=g, dtype=torch.float64) * 3]
    cases.append(torch.where(x > 0, -30.0, 30.0).to(torch.float64))     # confidently wrong: 30 nats per pixel
    cases.append(torch.where(x > 0, -200.0, 200.0).to(torch.float64))   # 200 nats per pixel
    cases.append(torch.where(x > 0, 40.0, -40.0).to(torch.float64))     # confidently right: about 0
    for logits in cases:
        nll = _tensor(submission.bernoulli_nll(logits.to(device, dt), x.to(device, dt)), (5,), "bernoulli_nll")
        assert oracle.close(nll, oracle.bernoulli_nll(logits, x), device, rtol=1e-6, atol=1e-6), \
            _("bernoulli_nll differs from -log p(x | logits) summed over the pixels (at moderate or at large " \
            "logits): compute it from the logits (softplus or binary_cross_entropy_with_logits), not through " \
            "sigmoid probabilities")


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_neg_elbo_matches_oracle(submission, device):
    """neg_elbo is the batch mean of reconstruction NLL + KL, with z = mu + exp(logvar / 2) * eps."""
    g = torch.Generator().manual_seed(607)
    dt = oracle.dtype_for(device)
    for B, D, H, L in ((6, 64, 16, 4), (9, 11, 6, 3)):
        params = oracle.random_vae(g, D, H, L, scale=2.0)
        x = _binary(g, B, D)
        eps = torch.randn(B, L, generator=g, dtype=torch.float64)
        loss = _tensor(submission.neg_elbo(x.to(device, dt), oracle.send(params, device), eps.to(device, dt)),
                       (), "neg_elbo")
        assert oracle.close(loss, oracle.neg_elbo(x, params, eps), device), \
            _("neg_elbo (B={B}) differs from the mean over the batch of bernoulli_nll + gaussian_kl of each image "
              "(one z per image from the given eps)", B=B)


@pytest.mark.points(2)
def test_neg_elbo_grads_match_autograd(submission):
    """neg_elbo_grads equals the gradients this check's autograd takes of its own negative ELBO, for every weight.

    With a reparameterisation that blocks the gradient, the encoder's weights get only the KL's gradient, and
    mu.weight, logvar.weight and enc.weight differ here.
    """
    g = torch.Generator().manual_seed(608)
    params = oracle.random_vae(g, 64, 16, 4, scale=2.0)
    x = _binary(g, 8, 64)
    eps = torch.randn(8, 4, generator=g, dtype=torch.float64)
    grads = submission.neg_elbo_grads(x, oracle.send(params, "cpu"), eps)
    assert isinstance(grads, dict) and set(grads) == set(oracle.KEYS), \
        _("neg_elbo_grads should return a dict with the keys of params")
    expected = oracle.neg_elbo_grads(x, params, eps)
    wrong = [key for key in oracle.KEYS
             if not oracle.close(_tensor(grads[key], tuple(params[key].shape), "neg_elbo_grads"), expected[key], "cpu")]
    assert not wrong, _("the gradients of {names} differ from autograd's gradients of the negative ELBO (is the "
                        "reparameterisation differentiable in mu and logvar?)", names=", ".join(wrong))


def _log_ratio(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """log q(z) - log p(z) per sample and row (S, B), with torch.distributions' densities."""
    sigma = (0.5 * logvar).exp()
    z = mu + sigma * eps
    return (Normal(mu, sigma).log_prob(z) - Normal(0.0, 1.0).log_prob(z)).sum(dim=-1)


@pytest.mark.points(1)
def test_mc_kl_is_the_log_density_ratio(submission):
    """mc_kl averages log q(z) - log p(z) over the given noise draws, z = mu + sigma * eps."""
    g = torch.Generator().manual_seed(609)
    for S, B, L in ((1, 3, 2), (4, 5, 3), (7, 2, 6)):
        mu = torch.randn(B, L, generator=g, dtype=torch.float64)
        logvar = torch.randn(B, L, generator=g, dtype=torch.float64)
        eps = torch.randn(S, B, L, generator=g, dtype=torch.float64)
        est = _tensor(submission.mc_kl(mu, logvar, eps), (B,), "mc_kl")
        assert oracle.close(est, _log_ratio(mu, logvar, eps).mean(dim=0), "cpu"), \
            _("mc_kl with S={S} draws is not the mean over the draws of log q(z) - log p(z), summed over the latent "
              "dimensions, at z = mu + exp(logvar / 2) * eps (it is an estimate from these draws, not the closed "
              "form)", S=S)


@pytest.mark.points(1)
def test_mc_kl_converges_to_closed_form(submission):
    """With 20,000 draws, mc_kl lies within 4 standard errors of the closed-form KL of torch.distributions."""
    g = torch.Generator().manual_seed(610)
    mu = torch.randn(4, 3, generator=g, dtype=torch.float64)
    logvar = torch.randn(4, 3, generator=g, dtype=torch.float64)
    eps = torch.randn(20_000, 4, 3, generator=g, dtype=torch.float64)
    est = _tensor(submission.mc_kl(mu, logvar, eps), (4,), "mc_kl")
    stderr = _log_ratio(mu, logvar, eps).std(dim=0) / math.sqrt(20_000)
    gap = (est.detach().to(torch.float64) - oracle.gaussian_kl(mu, logvar)).abs()
    assert bool(torch.isfinite(est).all()) and bool((gap < 4 * stderr).all()), \
        _("the Monte-Carlo estimate from 20,000 draws is not close to the KL divergence: check the sign of " \
        "log q - log p and the log-variance term of log q")
