"""Probes: loops that run on the submission's side, so a check can ask for thousands of calls at once.

Each function sees the submission's top-level names in the dict ``submission`` and returns raw outputs. This file
is sent into the sandbox, where student code can read it and even replace these functions, so it holds procedures
only, never expected values or thresholds, and no check takes its results on trust: the checks test the raw
outputs in the trusted process and compare randomly chosen parts of them with direct calls (docs/authoring.md,
section 2).
"""


def draw_next(probs, seeds, n_each, temperature=1.0):
    """For every seed, ``n_each`` successive draws of ``sample_next(probs, rng, temperature)`` from one generator
    ``np.random.default_rng(seed)``: a list of ``len(seeds)`` lists."""
    import numpy as np

    sample_next = submission["sample_next"]  # noqa: F821 - provided by the runner
    blocks = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        blocks.append([sample_next(probs, rng, temperature) for _i in range(n_each)])
    return blocks
