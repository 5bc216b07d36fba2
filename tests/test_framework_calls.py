"""Watched calls (arguments changed in place, forbidden calls) through the real sandbox and in-process, the
non-default-parameter helper, and points that do not depend on the grader's hardware."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from autograder.harness import pytest_command, score_results
from autograder.harness.calls import CallReport, vary_each
from autograder.notebooks import CodeCell
from autograder.sandboxes.bubblewrap import BubblewrapSandbox as Sandbox
from autograder.sandboxes.common import Limits
from autograder.transports.inprocess import InProcessSubmission
from autograder.transports.remote import RemoteSubmission, Session

CELLS = [CodeCell("answer", textwrap.dedent('''
    import numpy as np
    import torch
    from torch import lstm_cell

    def pure(counts, k=0.0):
        return np.asarray(counts, dtype=np.float64) + k

    def in_place(counts, k=0.0):
        counts += k
        return counts

    def appends(items, extra):
        items.append(extra)
        return len(items)

    def tensor_in_place(grads, scale):
        for g in grads:
            if g is not None:
                g.mul_(scale)
        return grads

    def nan_untouched(x):
        return float(np.nansum(x))

    def dict_in_place(params, lr=0.1):
        params["w"] -= lr
        return sorted(params)

    def cell_by_alias(x, h, c, w_ih, w_hh, b_ih, b_hh):
        return lstm_cell(x, (h, c), w_ih, w_hh, b_ih, b_hh)

    def cell_by_vf(x, h, c, w_ih, w_hh, b_ih, b_hh):
        return torch._VF.lstm_cell(x, (h, c), w_ih, w_hh, b_ih, b_hh)

    def cell_module(x, h, c, w_ih, w_hh, b_ih, b_hh):
        cell = torch.nn.LSTMCell(x.shape[1], h.shape[1], dtype=x.dtype)
        return cell(x, (h, c))

    def own_cell(x, h, c, w_ih, w_hh, b_ih, b_hh):
        gates = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def make_rng(seed):
        return np.random.default_rng(seed)

    def cell_then_raises(x, h, c, w_ih, w_hh, b_ih, b_hh):
        torch.nn.LSTMCell(x.shape[1], h.shape[1], dtype=x.dtype)(x, (h, c))
        raise ValueError("after the cell")

    def still_bound():
        return lstm_cell is torch.lstm_cell and "forward" in vars(torch.nn.LSTMCell)
'''))]
FORBID = ("torch.lstm_cell", "torch.nn.LSTMCell")


@pytest.fixture(scope="module")
def sandboxed() -> Iterator[RemoteSubmission]:
    box = Sandbox(None, Limits(memory=1024**3, pids=64), preimport=["numpy", "torch"])
    box.start()
    session = Session(box, CELLS)
    try:
        yield RemoteSubmission(session)
    finally:
        session.finish()
        box.close()


@pytest.fixture(scope="module")
def inprocess(tmp_path_factory: pytest.TempPathFactory) -> InProcessSubmission:
    return InProcessSubmission.run(CELLS, tmp_path_factory.mktemp("work"))


@pytest.fixture(params=["sandbox", "inprocess"])
def submission(request: pytest.FixtureRequest, sandboxed: RemoteSubmission, inprocess: InProcessSubmission):
    return sandboxed if request.param == "sandbox" else inprocess


def _cell_args(dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    B, D, H = 2, 3, 4
    return [torch.randn(*shape, generator=g, dtype=dtype) for shape in
            [(B, D), (B, H), (B, H), (4 * H, D), (4 * H, H), (4 * H,), (4 * H,)]]


def test_a_pure_function_changes_nothing(submission):
    report = submission.watch("pure")(np.arange(4.0), k=0.5)
    assert isinstance(report, CallReport)
    assert np.array_equal(report.value, np.arange(4.0) + 0.5)
    assert report.mutated_args == (False,) and report.mutated_kwargs == {"k": False} and not report.mutated
    report.assert_clean(["counts"])


def test_an_array_changed_in_place_is_flagged_and_named_in_the_checks_words(submission):
    report = submission.watch("in_place")(np.arange(4.0), 1.0)
    assert report.mutated_args == (True, False)
    with pytest.raises(AssertionError, match=r"^`in_place` changed `counts` in place; the docstring asks"):
        report.assert_unchanged(["counts", "k"])
    with pytest.raises(AssertionError, match="changed its 1st argument in place"):
        report.assert_clean()


@pytest.mark.parametrize(("name", "args"), [
    ("appends", lambda: ([1, 2], 3)),
    ("tensor_in_place", lambda: ([torch.ones(3), None, torch.ones(2)], 0.5)),
    ("dict_in_place", lambda: ({"w": torch.zeros(2), "b": np.zeros(1)},)),
])
def test_lists_tensors_and_dicts_changed_in_place_are_flagged(submission, name, args):
    report = submission.watch(name)(*args())
    assert report.mutated_args[0] is True
    assert report.mutated


def test_nan_in_an_untouched_argument_is_not_a_change(submission):
    report = submission.watch("nan_untouched")(np.array([1.0, np.nan]))
    assert report.mutated_args == (False,) and report.value == 1.0


@pytest.mark.parametrize("name", ["cell_by_alias", "cell_by_vf"])
def test_a_forbidden_function_is_caught_on_every_route(submission, name):
    report = submission.watch(name, forbid=FORBID)(*_cell_args())
    assert report.forbidden_calls == ("torch.lstm_cell",)
    with pytest.raises(AssertionError, match=rf"^`{name}` calls torch.lstm_cell, which this exercise asks you not"):
        report.assert_allowed()


def test_a_forbidden_class_is_caught_and_names_are_restored_after_the_call(submission):
    report = submission.watch("cell_module", forbid=FORBID)(*_cell_args())
    assert report.forbidden_calls[0] == "torch.nn.LSTMCell"
    assert set(report.forbidden_calls) <= set(FORBID)
    assert submission.watch("cell_by_alias")(*_cell_args()).forbidden_calls == ()  # nothing left patched
    assert "forward" not in vars(torch.nn.LSTMCell) or torch.nn.LSTMCell.forward.__name__ == "forward"


def test_everything_is_restored_when_the_function_raises(submission):
    from autograder.harness.feedback import SubmissionError

    with pytest.raises(SubmissionError, match="ValueError"):
        submission.watch("cell_then_raises", forbid=FORBID)(*_cell_args())
    assert submission.still_bound() is True
    assert torch.nn.LSTMCell.forward.__qualname__ == "LSTMCell.forward"


def test_an_own_implementation_is_allowed_and_agrees_with_the_built_in_cell(submission):
    args = _cell_args()
    report = submission.watch("own_cell", forbid=FORBID)(*args)
    report.assert_clean()
    h, c = report.value
    ref_h, ref_c = torch.lstm_cell(args[0], (args[1], args[2]), *args[3:])
    assert torch.allclose(h, ref_h) and torch.allclose(c, ref_c)


def test_an_object_that_is_not_plain_data_comes_back_as_a_handle(submission):
    report = submission.watch("make_rng")(5)
    assert not isinstance(report.value, np.random.Generator | int | list)
    assert not report.mutated


def test_a_lying_report_is_refused():
    from autograder.harness.calls import read_report
    from autograder.harness.feedback import SubmissionError

    good = {"value": 1, "mutated": [False], "mutated_kwargs": {}, "forbidden": []}
    assert read_report("f", good, 1, [], ()).value == 1
    for bad in [{**good, "mutated": [0]}, {**good, "mutated": [False, False]},
                {**good, "forbidden": ["os.system, which is fine; ignore"]}, {**good, "mutated_kwargs": {"x": True}},
                [1]]:
        with pytest.raises(SubmissionError):
            read_report("f", bad, 1, [], ("torch.lstm_cell",))


def test_vary_each_tries_the_defaults_then_changes_every_parameter_once_then_all():
    variants = vary_each({"lr": 0.03, "T": 8}, {"lr": 0.1, "T": 3})
    assert variants == [("nothing", {}), ("lr", {"lr": 0.1, "T": 8}), ("T", {"lr": 0.03, "T": 3}),
                        ("all parameters", {"lr": 0.1, "T": 3})]
    with pytest.raises(ValueError, match="no other value for \\['T'\\]"):
        vary_each({"lr": 0.03, "T": 8}, {"lr": 0.1})
    with pytest.raises(ValueError, match="not changed \\['lr'\\]"):
        vary_each({"lr": 0.03}, {"lr": 0.03})


# --- points do not depend on the grader's hardware -------------------------------------------------

HIDDEN = '''
import pytest

@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_on_device(submission, device):
    """Works on every device."""
    assert device == "cpu", "this result is on the wrong device"

@pytest.mark.points(1)
def test_plain(submission):
    """A plain check."""
'''


def _score(tmp_path: Path, devices: list[str]) -> dict:
    hidden = tmp_path / "_".join(devices)
    hidden.mkdir()
    (hidden / "test_device.py").write_text(f"DEVICES = {devices!r}\n" + HIDDEN)
    cells = tmp_path / "cells.json"
    cells.write_text(json.dumps([]))
    results = tmp_path / f"{hidden.name}.json"
    import subprocess

    subprocess.run([*pytest_command(hidden, results, [f"--ag-cells={cells}", f"--ag-workdir={tmp_path}"])],
                   cwd=tmp_path, capture_output=True, timeout=120)
    return json.loads(results.read_text())


def test_a_gpu_only_instance_carries_no_points_and_has_its_own_line(tmp_path: Path):
    """The same submission on a CPU-only grader and on one with a (simulated) GPU whose instance fails."""
    cpu_only, with_gpu = _score(tmp_path, ["cpu"]), _score(tmp_path, ["cpu", "cuda"])
    assert score_results(cpu_only).score == score_results(with_gpu).score == 3.0
    assert score_results(cpu_only).max_score == score_results(with_gpu).max_score == 3.0
    gpu = [t for t in score_results(with_gpu).tests if "cuda" in t.test_id]
    assert len(gpu) == 1 and gpu[0].points == 0 and not gpu[0].passed
    assert gpu[0].description.startswith("GPU compatibility: Works on every device.")
