"""Hidden checks, week 2: the RNN, LSTM and GRU cells, their unrolled loops, and gradients through time.

Oracles: nn.RNNCell / nn.LSTMCell / nn.GRUCell and nn.RNN / nn.LSTM / nn.GRU with the same weights copied in, in
float64 on the CPU (PyTorch layout: LSTM gate blocks i, f, g, o; GRU blocks r, z, n with the reset gate applied
to (W_hn h + b_hn); two biases). Gate-semantics checks saturate one gate's bias at +/-50 so that the expected
output follows from the gate's meaning alone, whatever else the cell does.
"""

import math

import pytest
import torch

from autograder.i18n import N_, _

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
PRECISION = N_("the result is correct only to about 1e-6, the precision of float32: compute in the inputs' dtype "
               "(float64 here) throughout, without .float() or float32 tensors of your own")
# The notebook asks for the cells and loops written out, not PyTorch's: every call of a cell or loop below is
# watched by the runner, which reports a call of any of these (by any route: torch._VF, an nn module's forward...).
BUILT_IN_CELLS = ("torch.rnn_tanh_cell", "torch.rnn_relu_cell", "torch.lstm_cell", "torch.gru_cell",
                  "torch.rnn_tanh", "torch.rnn_relu", "torch.lstm", "torch.gru",
                  "torch.nn.RNNCell", "torch.nn.LSTMCell", "torch.nn.GRUCell",
                  "torch.nn.RNN", "torch.nn.LSTM", "torch.nn.GRU")


def _own(submission, name):
    """``name`` as a watched call that fails, in plain words, when it uses one of PyTorch's built-in cells."""
    watched = submission.watch(name, forbid=BUILT_IN_CELLS, check_args=False)

    def call(*args):
        report = watched(*args)
        report.assert_allowed()
        return report.value

    return call


def _dtype(device):
    # float64 on the CPU; float32 on a GPU (the realistic case, and the one TF32 can touch)
    return torch.float64 if device == "cpu" else torch.float32


def _close(actual, expected, device):
    """actual (any device/dtype) against a CPU float64 oracle; tolerances that hold under TF32 on a GPU.

    A float64 result that misses the CPU tolerance but is right to float32 precision (about 1e-6 relative, which
    no formula mistake achieves on these random inputs) fails with its own message, naming the real cause."""
    rtol, atol = (1e-6, 1e-9) if device == "cpu" else (1e-3, 1e-3)
    actual = actual.detach().cpu().to(torch.float64)
    if not bool(torch.isfinite(actual).all()):
        return False
    if torch.allclose(actual, expected, rtol=rtol, atol=atol):
        return True
    assert device != "cpu" or not torch.allclose(actual, expected, rtol=1e-4, atol=1e-6), _(PRECISION)
    return False


def _randn(g, *shape, scale=1.0):
    return torch.randn(*shape, generator=g, dtype=torch.float64) * scale


def _weights(g, kind, D, H, scale=0.5):
    """(W_ih, W_hh, b_ih, b_hh) in PyTorch's layout, float64 on the CPU."""
    rows = GATES[kind] * H
    return (_randn(g, rows, D, scale=scale), _randn(g, rows, H, scale=scale),
            _randn(g, rows, scale=scale), _randn(g, rows, scale=scale))


def _to(device, *tensors):
    return [t.to(device, _dtype(device), copy=True) for t in tensors]


def _tensor(value, what, shape, device):
    """Check a result's type, shape and dtype before trusting it."""
    # messages name only what the check chose (never str() of a returned value: it could carry hidden inputs out)
    assert type(value) is torch.Tensor, _("{what} should be a torch.Tensor", what=what)
    assert tuple(value.shape) == tuple(shape), _("{what} should have shape {tuple_shape}",
                                                 what=what, tuple_shape=tuple(shape))
    assert value.dtype == _dtype(device), _("{what} should keep the dtype of the inputs ({dtype_device})",
                                            what=what, dtype_device=_dtype(device))
    return value


def _pair(value, what):
    assert isinstance(value, (tuple, list)) and len(value) == 2, _("{what} should return a pair", what=what)
    return value


def _load(module, weights, suffix=""):
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    with torch.no_grad():
        for name, w in zip(names, weights, strict=True):
            getattr(module, name + suffix).copy_(w)
    return module


# --- single steps against the torch cells --------------------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.parametrize("device", DEVICES)
def test_rnn_step_matches_rnncell(submission, device):
    """rnn_step matches nn.RNNCell (tanh) with the same weights and both biases."""
    g = torch.Generator().manual_seed(200)
    B, D, H = 3, 4, 5
    x, h = _randn(g, B, D), _randn(g, B, H)
    w = _weights(g, "rnn", D, H)
    with torch.no_grad():
        ref = _load(torch.nn.RNNCell(D, H, dtype=torch.float64), w)(x, h)
    out = _tensor(_own(submission, "rnn_step")(*_to(device, x, h, *w)), "rnn_step's result", (B, H), device)
    assert _close(out, ref, device), _("rnn_step differs from tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)")


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_lstm_step_matches_lstmcell(submission, device):
    """lstm_step matches nn.LSTMCell (gate blocks i, f, g, o) for both the new hidden and cell state."""
    g = torch.Generator().manual_seed(201)
    B, D, H = 3, 4, 5
    x, h, c = _randn(g, B, D), _randn(g, B, H), _randn(g, B, H)
    w = _weights(g, "lstm", D, H)
    with torch.no_grad():
        ref_h, ref_c = _load(torch.nn.LSTMCell(D, H, dtype=torch.float64), w)(x, (h, c))
    h1, c1 = _pair(_own(submission, "lstm_step")(*_to(device, x, h, c, *w)), "lstm_step")
    _tensor(h1, "lstm_step's h_next", (B, H), device)
    _tensor(c1, "lstm_step's c_next", (B, H), device)
    assert _close(c1, ref_c, device), \
        _("c_next differs from nn.LSTMCell: check the gate order i, f, g, o and the nonlinearities")
    assert _close(h1, ref_h, device), _("h_next differs from nn.LSTMCell although c_next matches: check o * "
                                        "tanh(c_next)")


@pytest.mark.points(1)
@pytest.mark.parametrize("device", DEVICES)
def test_lstm_forget_and_input_gates(submission, device):
    """LSTM gate semantics: forget open + input shut keeps c; forget shut + input open writes c' = g."""
    g = torch.Generator().manual_seed(202)
    B, D, H = 4, 3, 6
    x, h, c = _randn(g, B, D), _randn(g, B, H), _randn(g, B, H)
    W_ih, W_hh, b_ih, b_hh = _weights(g, "lstm", D, H, scale=0.3)
    keep = b_ih.clone()
    keep[H:2 * H] += 50.0      # forget gate -> 1
    keep[0:H] -= 50.0          # input gate -> 0
    _h1, c1 = _pair(_own(submission, "lstm_step")(*_to(device, x, h, c, W_ih, W_hh, keep, b_hh)), "lstm_step")
    _tensor(c1, "lstm_step's c_next", (B, H), device)
    assert _close(c1, c, device), _("with the forget gate saturated open and the input gate shut, c_next should "
                                    "equal c")
    write = b_ih.clone()
    write[H:2 * H] -= 50.0     # forget gate -> 0
    write[0:H] += 50.0         # input gate -> 1
    _h1, c1 = _pair(_own(submission, "lstm_step")(*_to(device, x, h, c, W_ih, W_hh, write, b_hh)), "lstm_step")
    cand = torch.tanh(x @ W_ih[2 * H:3 * H].T + write[2 * H:3 * H] + h @ W_hh[2 * H:3 * H].T + b_hh[2 * H:3 * H])
    assert _close(_tensor(c1, "lstm_step's c_next", (B, H), device), cand, device), \
        _("with the forget gate shut and the input gate open, c_next should be the candidate g (the third block, tanh)")


@pytest.mark.points(1)
@pytest.mark.parametrize("device", DEVICES)
def test_lstm_output_gate(submission, device):
    """LSTM gate semantics: a shut output gate gives h' = 0, an open one gives h' = tanh(c')."""
    g = torch.Generator().manual_seed(203)
    B, D, H = 4, 3, 6
    x, h, c = _randn(g, B, D), _randn(g, B, H), _randn(g, B, H)
    W_ih, W_hh, b_ih, b_hh = _weights(g, "lstm", D, H, scale=0.3)
    shut = b_ih.clone()
    shut[3 * H:4 * H] -= 50.0  # output gate -> 0
    h1, _unused = _pair(_own(submission, "lstm_step")(*_to(device, x, h, c, W_ih, W_hh, shut, b_hh)), "lstm_step")
    _tensor(h1, "lstm_step's h_next", (B, H), device)
    assert _close(h1, torch.zeros(B, H, dtype=torch.float64), device), \
        _("with the output gate (fourth block) saturated shut, h_next should be 0")
    # Output, input and forget gates all saturated open: c' = c + g whichever of the first two blocks is which, so
    # the expected h' = tanh(c + g) comes from this check alone, never from the submission's own c_next.
    open_ = b_ih.clone()
    open_[0:2 * H] += 50.0       # input and forget gates -> 1
    open_[3 * H:4 * H] += 50.0   # output gate -> 1
    cand = torch.tanh(x @ W_ih[2 * H:3 * H].T + open_[2 * H:3 * H] + h @ W_hh[2 * H:3 * H].T + b_hh[2 * H:3 * H])
    h1, _unused = _pair(_own(submission, "lstm_step")(*_to(device, x, h, c, W_ih, W_hh, open_, b_hh)), "lstm_step")
    _tensor(h1, "lstm_step's h_next", (B, H), device)
    assert _close(h1, torch.tanh(c + cand), device), \
        _("with every gate saturated open (so c_next = c + g), h_next should be tanh(c_next)")


@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_gru_step_matches_grucell(submission, device):
    """gru_step matches nn.GRUCell (blocks r, z, n; reset applied to W_hn h + b_hn)."""
    g = torch.Generator().manual_seed(204)
    B, D, H = 3, 4, 5
    x, h = _randn(g, B, D), _randn(g, B, H)
    w = _weights(g, "gru", D, H)
    with torch.no_grad():
        ref = _load(torch.nn.GRUCell(D, H, dtype=torch.float64), w)(x, h)
    out = _tensor(_own(submission, "gru_step")(*_to(device, x, h, *w)), "gru_step's result", (B, H), device)
    assert _close(out, ref, device), \
        _("gru_step differs from nn.GRUCell: check the order r, z, n, which side of the blend (1 - z) sits on, "
         "and where r applies")


@pytest.mark.points(1)
@pytest.mark.parametrize("device", DEVICES)
def test_gru_update_gate_keeps_state(submission, device):
    """GRU gate semantics: with the update gate z saturated at 1 the state is copied through (h' = h)."""
    g = torch.Generator().manual_seed(205)
    B, D, H = 4, 3, 6
    x, h = _randn(g, B, D), _randn(g, B, H)
    W_ih, W_hh, b_ih, b_hh = _weights(g, "gru", D, H, scale=0.3)
    keep = b_ih.clone()
    keep[H:2 * H] += 50.0      # update gate z -> 1
    out = _own(submission, "gru_step")(*_to(device, x, h, W_ih, W_hh, keep, b_hh))
    out = _tensor(out, "gru_step's result", (B, H), device)
    assert _close(out, h, device), _("with the update gate z (second block) saturated at 1, h_next should equal h")


@pytest.mark.points(1)
@pytest.mark.parametrize("device", DEVICES)
def test_gru_reset_gate_inside_candidate(submission, device):
    """GRU gate semantics: with z = 0, h' is the candidate n; r = 0 drops (W_hn h + b_hn), r = 1 keeps it."""
    g = torch.Generator().manual_seed(206)
    B, D, H = 4, 3, 6
    x, h = _randn(g, B, D), _randn(g, B, H)
    W_ih, W_hh, b_ih, b_hh = _weights(g, "gru", D, H, scale=0.3)
    b_hh[2 * H:] += 0.5        # a clearly non-zero b_hn
    pre_x = x @ W_ih[2 * H:].T + b_ih[2 * H:]
    pre_h = h @ W_hh[2 * H:].T + b_hh[2 * H:]
    cases = ((-50.0, torch.tanh(pre_x), "r = 0 the candidate should ignore W_hn h + b_hn"),
             (50.0, torch.tanh(pre_x + pre_h), "r = 1 the candidate should include W_hn h + b_hn"))
    for reset, expected, words in cases:
        bias = b_ih.clone()
        bias[H:2 * H] -= 50.0  # update gate z -> 0: h' = n
        bias[0:H] += reset     # reset gate r -> 0 or 1
        out = _own(submission, "gru_step")(*_to(device, x, h, W_ih, W_hh, bias, b_hh))
        _tensor(out, "gru_step's result", (B, H), device)
        assert _close(out, expected, device), _("with z = 0 (so h_next = n) and {words}", words=words)


# --- unrolled loops against nn.RNN / nn.LSTM / nn.GRU ---------------------------------------------------------

def _sequence(seed, T=7, B=3, D=4, H=5):
    g = torch.Generator().manual_seed(seed)
    return g, _randn(g, T, B, D), _randn(g, B, H), _randn(g, B, H)


@pytest.mark.points(1)
@pytest.mark.parametrize("device", DEVICES)
def test_rnn_forward_matches_nn_rnn(submission, device):
    """rnn_forward returns every hidden state (T, B, H) and the last one, like nn.RNN."""
    g, xs, h0, _unused = _sequence(210)
    T, B, D = xs.shape
    H = h0.shape[1]
    w = _weights(g, "rnn", D, H)
    with torch.no_grad():
        ref_hs, ref_hT = _load(torch.nn.RNN(D, H, dtype=torch.float64), w, "_l0")(xs, h0[None])
    hs, hT = _pair(_own(submission, "rnn_forward")(*_to(device, xs, h0, *w)), "rnn_forward")
    _tensor(hs, "rnn_forward's hs", (T, B, H), device)
    _tensor(hT, "rnn_forward's h_T", (B, H), device)
    assert _close(hs, ref_hs, device), _("rnn_forward's hs differ from nn.RNN: hs[t] should be the state after step t")
    assert _close(hT, ref_hT[0], device), _("rnn_forward's final state differs from nn.RNN")


@pytest.mark.points(1)
@pytest.mark.parametrize("device", DEVICES)
def test_lstm_forward_matches_nn_lstm(submission, device):
    """lstm_forward returns every hidden state and the final (h_T, c_T), like nn.LSTM."""
    g, xs, h0, c0 = _sequence(211)
    T, B, D = xs.shape
    H = h0.shape[1]
    w = _weights(g, "lstm", D, H)
    with torch.no_grad():
        ref_hs, (ref_hT, ref_cT) = _load(torch.nn.LSTM(D, H, dtype=torch.float64), w, "_l0")(xs, (h0[None], c0[None]))
    hs, last = _pair(_own(submission, "lstm_forward")(*_to(device, xs, h0, c0, *w)), "lstm_forward")
    hT, cT = _pair(last, "lstm_forward's second element (h_T, c_T)")
    _tensor(hs, "lstm_forward's hs", (T, B, H), device)
    _tensor(hT, "lstm_forward's h_T", (B, H), device)
    _tensor(cT, "lstm_forward's c_T", (B, H), device)
    assert _close(hs, ref_hs, device), _("lstm_forward's hs differ from nn.LSTM")
    assert _close(hT, ref_hT[0], device) and _close(cT, ref_cT[0], device), \
        _("lstm_forward's final (h_T, c_T) differ from nn.LSTM")


@pytest.mark.points(1)
@pytest.mark.parametrize("device", DEVICES)
def test_gru_forward_matches_nn_gru(submission, device):
    """gru_forward returns every hidden state (T, B, H) and the last one, like nn.GRU."""
    g, xs, h0, _unused = _sequence(212)
    T, B, D = xs.shape
    H = h0.shape[1]
    w = _weights(g, "gru", D, H)
    with torch.no_grad():
        ref_hs, ref_hT = _load(torch.nn.GRU(D, H, dtype=torch.float64), w, "_l0")(xs, h0[None])
    hs, hT = _pair(_own(submission, "gru_forward")(*_to(device, xs, h0, *w)), "gru_forward")
    _tensor(hs, "gru_forward's hs", (T, B, H), device)
    _tensor(hT, "gru_forward's h_T", (B, H), device)
    assert _close(hs, ref_hs, device), _("gru_forward's hs differ from nn.GRU")
    assert _close(hT, ref_hT[0], device), _("gru_forward's final state differs from nn.GRU")


# --- gradients through time -------------------------------------------------------------------------------------

@pytest.mark.points(2)
@pytest.mark.parametrize("device", DEVICES)
def test_rnn_grad_norms_match_autograd(submission, device):
    """rnn_grad_norms gives ||dL/dh_t|| for every step, in time order, for L = h_T.sum()."""
    g = torch.Generator().manual_seed(220)
    T, B, D, H = 12, 3, 4, 6
    xs, h0 = _randn(g, T, B, D), _randn(g, B, H, scale=0.5)
    w = _weights(g, "rnn", D, H)
    w = (w[0], _randn(g, H, H, scale=1.2 / math.sqrt(H)), w[2], w[3])   # gradients that shrink, but not to 0
    cell = _load(torch.nn.RNNCell(D, H, dtype=torch.float64), w)
    h, hs = h0.clone().requires_grad_(True), []
    for x in xs:
        h = cell(x, h)
        hs.append(h)
    grads = torch.autograd.grad(hs[-1].sum(), hs)
    ref = torch.stack([gr.norm() for gr in grads])
    out = submission.rnn_grad_norms(*_to(device, xs, h0, *w))
    _tensor(out, "rnn_grad_norms' result", (T,), device)
    assert not out.requires_grad, _("return the norms detached")
    assert _close(out, ref, device), \
        _("the gradient norms differ from autograd's: entry t is ||dL/dhs[t]|| with L = hs[-1].sum(), in time order")
