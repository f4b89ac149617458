"""Reference cases for nn/rnn.h: LSTM and GRU stacks and cells, with the weights passed
as case inputs (through torch._VF.lstm/gru, what torch.nn.LSTM.forward itself calls
with its flat weights), so kiln's functional forms get the same ones and every
weight's gradient is compared too."""
import torch

from refcase import Case, randn

IN, H = 3, 4


def stack_case(name, kind, layers, bidirectional, batch_first, with_state, seq=(4, 2), bias=True,
               gradgradcheck=True):
    make = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU
    module = make(IN, H, layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional)
    dirs = 2 if bidirectional else 1

    def fn(x, *rest):
        n_state = (2 if kind == "lstm" else 1) if with_state else 0
        states, weights = list(rest[:n_state]), list(rest[n_state:])
        n = x.shape[0] if batch_first else x.shape[1]
        zeros = torch.zeros(layers * dirs, n, H)
        if kind == "lstm":
            hx = tuple(states) if with_state else (zeros, zeros)
            out, h, c = torch._VF.lstm(x, hx, weights, bias, layers, 0.0, False, bidirectional, batch_first)
            return out, h, c
        hx = states[0] if with_state else zeros
        out, h = torch._VF.gru(x, hx, weights, bias, layers, 0.0, False, bidirectional, batch_first)
        return out, h

    def inputs():
        t, n = seq
        x = randn(n, t, IN) if batch_first else randn(t, n, IN)
        states = []
        if with_state:
            states = [randn(layers * dirs, n, H) for _ in range(2 if kind == "lstm" else 1)]
        return [x] + states + [randn(*p.shape) * 0.5 for p in module._flat_weights]

    return Case(name, fn, inputs, gradgradcheck=gradgradcheck)


def cases():
    return [
        stack_case("lstm.one_layer", "lstm", 1, False, False, False),
        # (the two-layer stacks have ~600 weights: their double backward is checked
        # through the one-layer cases, to keep the sanitizer run short)
        stack_case("lstm.two_layers_bidir_state", "lstm", 2, True, False, True, gradgradcheck=False),
        stack_case("lstm.batch_first", "lstm", 1, False, True, True),
        stack_case("lstm.no_bias", "lstm", 1, False, False, False, bias=False),
        stack_case("gru.one_layer", "gru", 1, False, False, False),
        stack_case("gru.two_layers_bidir_state", "gru", 2, True, True, True, gradgradcheck=False),
        Case("lstm_cell.basic", lambda x, h, c, wi, wh, bi, bh: torch.lstm_cell(x, (h, c), wi, wh, bi, bh),
             lambda: [randn(2, IN), randn(2, H), randn(2, H), randn(4 * H, IN), randn(4 * H, H), randn(4 * H),
                      randn(4 * H)]),
        Case("gru_cell.basic", lambda x, h, wi, wh, bi, bh: torch.gru_cell(x, h, wi, wh, bi, bh),
             lambda: [randn(2, IN), randn(2, H), randn(3 * H, IN), randn(3 * H, H), randn(3 * H), randn(3 * H)]),
    ]
