"""`submission.f` stays valid between calls over the sandbox boundary (one request per call, not a look-up and a
call each time) and still follows every rebinding of the name, as a notebook would: the runner reports the names
it handed out as handles whenever a request rebinds them."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from autograder.harness.feedback import MissingName, SubmissionError
from autograder.notebooks import CodeCell
from autograder.sandboxes.bubblewrap import BubblewrapSandbox as Sandbox
from autograder.sandboxes.common import Limits
from autograder.transports.inprocess import InProcessSubmission
from autograder.transports.remote import RemoteSubmission, Session

CELLS = [CodeCell("answer", textwrap.dedent('''
    def f(x):
        return x + 1

    def g(x):
        return x * 10

    class Model:
        def __init__(self, w):
            self.w = w

    model = Model(1)

    def swap():
        global f
        f = g

    def to_data():
        global f
        f = 3

    def die():
        import os
        os._exit(3)

    def retrain():
        global model
        model = Model(model.w + 1)
'''))]


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    sandbox = Sandbox(None, Limits(memory=512 * 1024**2, pids=64))
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.close()


@pytest.fixture(params=["sandbox", "inprocess"])
def submission(request: pytest.FixtureRequest, box: Sandbox, tmp_path: Path):
    if request.param == "inprocess":
        yield InProcessSubmission.run(CELLS, tmp_path)
        return
    session = Session(box, CELLS)
    try:
        yield RemoteSubmission(session)
    finally:
        session.finish()


def test_a_function_rebound_by_a_call_is_called_in_its_new_binding(submission):
    assert submission.f(3) == 4
    submission.swap()
    assert submission.f(3) == 30


def test_a_name_rebound_to_data_reads_as_data(submission):
    assert submission.f(1) == 2
    submission.to_data()
    assert submission.f == 3


def test_an_object_replaced_by_a_call_is_the_new_object(submission):
    assert submission.model.w == 1
    submission.retrain()
    submission.retrain()
    assert submission.model.w == 3


def test_deleting_and_assigning_a_name_are_seen(submission):
    assert submission.f(1) == 2
    submission.delete("f")
    with pytest.raises(MissingName):
        submission.f  # noqa: B018 - the look-up is the test
    submission.assign("f", submission.g)
    assert submission.f(2) == 20


def test_repeated_calls_cost_one_request_each(box: Sandbox):
    session = Session(box, CELLS)
    try:
        submission = RemoteSubmission(session)
        assert submission.f(0) == 1  # starts the submission, looks f up, calls it
        before = session._next_id
        assert [submission.f(i) for i in range(10)] == list(range(1, 11))
        assert session._next_id - before == 10
    finally:
        session.finish()


def test_after_a_restart_the_name_is_looked_up_again_and_an_old_object_is_lost(box: Sandbox):
    session = Session(box, CELLS)
    try:
        submission = RemoteSubmission(session)
        held = submission.f
        assert held(1) == 2
        with pytest.raises(SubmissionError, match="exited"):
            submission.die()
        assert submission.f(1) == 2  # the submission restarted: f is a handle of the new process
        with pytest.raises(SubmissionError, match="lost when the submission was restarted"):
            held(1)
    finally:
        session.finish()
