"""attacks.md #17 - a torch.Tensor subclass whose __torch_function__ makes torch.allclose / torch.equal / == say True.

Defines `double_t`, graded by a hidden check the test adds; the values themselves are wrong (zeros).
"""

import torch


class Forged(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.equal, torch.isclose, torch.Tensor.__eq__, torch.Tensor.equal):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})


def double_t(values):
    return torch.zeros(len(values), dtype=torch.float64).as_subclass(Forged)
