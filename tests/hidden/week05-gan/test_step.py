"""Hidden checks, week 5: gan_step, one alternating update, against the check's own update.

Oracle (oracle.gan_step): nn.Sequential modules in float64 on the CPU holding the same weights, torch.optim.SGD,
the discriminator on real and detached fakes, then the generator through the updated discriminator. Inputs are made
on the CPU with seeded generators and moved to each device; on a GPU the submission runs in float32 (1e-4).
"""

import importlib.util
from pathlib import Path

import pytest
import torch

from autograder.i18n import _

_spec = importlib.util.spec_from_file_location("week05_oracle", Path(__file__).with_name("oracle.py"))
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)
DEVICES = oracle.DEVICES


def _setup(seed: int, latent: int, hidden: int, n: int, m: int):
    g = torch.Generator().manual_seed(seed)
    G = oracle.random_network(g, [latent, hidden, hidden, 2])
    D = oracle.random_network(g, [2, hidden, hidden, 1], scale=1.5)
    real = oracle.ring_data(n, g, angle=0.3).double()
    z = torch.randn(m, latent, generator=g, dtype=torch.float64)
    return G, D, real, z


def _moved(params: dict, device: str) -> dict:
    return {k: v.to(device, oracle.dtype_for(device)) for k, v in params.items()}


def _network(value, like: dict, what: str) -> dict:
    assert isinstance(value, dict) and set(value) == set(like), _("{what} should be a dict with the input's keys",
                                                                  what=what)
    for key, tensor in value.items():
        assert type(tensor) is torch.Tensor and tuple(tensor.shape) == tuple(like[key].shape), \
            _("{what} should hold tensors shaped like the input's", what=what)
        assert not tensor.requires_grad, _("return {what} detached", what=what)
    return value


def _step(submission, G, D, real, z, lr_d, lr_g, kind, device):
    result = submission.gan_step(_moved(G, device), _moved(D, device), real.to(device, oracle.dtype_for(device)),
                                 z.to(device, oracle.dtype_for(device)), lr_d, lr_g, kind)
    assert isinstance(result, (tuple, list)) and len(result) == 2, _("gan_step should return (new_G, new_D)")
    return _network(result[0], G, "new_G"), _network(result[1], D, "new_D")


def _all_close(actual: dict, expected: dict, device: str) -> bool:
    return all(oracle.close(actual[k], expected[k], device) for k in expected)


CASES = [  # seed, latent, hidden, n real, m noise, lr_d, lr_g, kind
    (510, 3, 8, 6, 5, 0.1, 0.2, "non_saturating"),
    (511, 2, 16, 32, 32, 0.5, 0.3, "non_saturating"),
    (512, 4, 6, 5, 9, 0.2, 0.4, "minimax"),
]


@pytest.mark.points(3)
@pytest.mark.parametrize("device", DEVICES)
def test_gan_step_matches_trusted_update(submission, device):
    """gan_step equals one alternating SGD update made with PyTorch modules (both losses, batches of other sizes)."""
    for seed, latent, hidden, n, m, lr_d, lr_g, kind in CASES:
        G, D, real, z = _setup(seed, latent, hidden, n, m)
        new_G, new_D = _step(submission, G, D, real, z, lr_d, lr_g, kind, device)
        want_G, want_D = oracle.gan_step(G, D, real, z, lr_d, lr_g, kind)
        assert _all_close(new_D, want_D, device), \
            _("the discriminator's update differs: d_loss on real and detached fakes, one SGD step on D only")
        assert _all_close(new_G, want_G, device), \
            _("the generator's update differs: g_loss(kind) through the updated discriminator, one SGD step on G only")


@pytest.mark.points(2)
def test_gan_step_discriminator_step_leaves_generator_alone(submission):
    """With lr_g = 0 the generator is returned unchanged, and D's update does not depend on lr_g."""
    G, D, real, z = _setup(513, 3, 10, 8, 8)
    new_G, new_D = _step(submission, G, D, real, z, 0.3, 0.0, "non_saturating", "cpu")
    assert all(torch.equal(new_G[k].cpu().double(), G[k]) for k in G), \
        _("with lr_g = 0 the generator moved: the discriminator step must not update (or send gradients to) G")
    want_G, want_D = oracle.gan_step(G, D, real, z, 0.3, 0.0, "non_saturating")
    assert _all_close(new_D, want_D, "cpu"), _("the discriminator's update differs from one SGD step on d_loss")
    other_G, other_D = _step(submission, G, D, real, z, 0.3, 0.7, "non_saturating", "cpu")
    assert _all_close(other_D, want_D, "cpu"), _("the discriminator's update should not depend on lr_g")
