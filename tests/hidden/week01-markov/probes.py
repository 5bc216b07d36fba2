"""Probes: loops that run on the submission's side, so a check can ask for thousands of calls at once.

Each function sees the submission's top-level names in the dict ``submission`` and returns raw outputs; the
verdicts are computed by the checks in the trusted process. This file is sent into the sandbox: it holds
procedures only, never expected values.
"""


def draw_next(n, probs, seed, temperature=1.0):
    """``n`` successive draws of ``sample_next(probs, rng, temperature)`` from one seeded generator."""
    import numpy as np

    rng = np.random.default_rng(seed)
    sample_next = submission["sample_next"]  # noqa: F821 - provided by the runner
    return [sample_next(probs, rng, temperature) for _ in range(n)]
