from __future__ import annotations

import pytest
import torch

from nameorigin.config import Config
from nameorigin.models.tensors import encode
from nameorigin.models.tutorial import RNNCell, ScratchRNN
from nameorigin.models import build_model
from nameorigin.models.recurrent import reverse_padded

NAMES = ["Qin", "Slaveya", "Fernando", "O'Neal", "Li", "Abdullah-Khan", "Mike"]


@pytest.mark.parametrize("arch, options", [
    ("rnn", {}), ("gru", {}), ("lstm", {}), ("gru-cell", {}), ("lstm-cell", {}),
    ("lstm", {"embedding_dim": 8, "bidirectional": True}),
    ("gru-cell", {"embedding_dim": 8, "bidirectional": True}),
    ("gru", {"ensemble": 3, "embedding_dim": 4}),
])
def test_batched_forward_equals_one_name_at_a_time(arch, options):
    torch.manual_seed(0)
    model = build_model(Config(arch=arch, hidden_size=32, **options), n_labels=5).eval()
    chars, lengths = encode(NAMES)
    with torch.no_grad():
        batched = model(chars, lengths)
        single = torch.cat([model(*encode([n])) for n in NAMES])
    assert chars.shape[1] == max(map(len, NAMES))
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=0)


@pytest.mark.parametrize("fast", [True, False])
def test_scratch_rnn_reads_only_up_to_each_names_end(fast):
    torch.manual_seed(0)
    model = ScratchRNN(59, 16, 3, fast=fast).eval()
    chars, lengths = encode(["Qin"])
    padded = torch.cat([chars, torch.randint(0, 59, (1, 5))], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(model(chars, lengths), model(padded, lengths))


@pytest.mark.parametrize("fast", [True, False])
def test_scratch_rnn_logits_come_from_the_last_input_and_previous_state(fast):
    """logits = in2output([x_T; h_{T-1}]): the recurrence of the reference, step by step."""
    torch.manual_seed(0)
    model = ScratchRNN(59, 8, 3, fast=fast).eval()
    chars, lengths = encode(["abc"])
    x = torch.nn.functional.one_hot(chars[0], 59).float()
    h = torch.zeros(1, 8)
    for t in range(2):
        h = torch.sigmoid(model.in2hidden(torch.cat([x[t:t + 1], h], dim=1)))
    expected = model.in2output(torch.cat([x[2:3], h], dim=1))
    with torch.no_grad():
        torch.testing.assert_close(model(chars, lengths), expected)


@pytest.mark.parametrize("fast", [True, False])
def test_scratch_rnn_is_the_tutorials_cell_run_one_character_at_a_time(fast):
    """The tutorial's loop, ``output, hidden = rnn(x, hidden)`` per character, with the cell loaded
    from the batched model's weights (the same parameter names), gives the batched logits."""
    torch.manual_seed(0)
    model = ScratchRNN(59, 8, 3, fast=fast).eval()
    cell = RNNCell(59, 8, 3)
    cell.load_state_dict(model.state_dict())
    for name in NAMES:
        hidden = torch.zeros(1, 8)
        for x in torch.nn.functional.one_hot(encode([name])[0][0], 59).float():
            output, hidden = cell(x.unsqueeze(0), hidden)
        with torch.no_grad():
            torch.testing.assert_close(model(*encode([name])), output, atol=1e-6, rtol=0)


@pytest.mark.parametrize("fast", [True, False])
def test_scratch_rnn_gradients_equal_the_step_by_step_reference(fast):
    """Training gradients of the batched model = those of the reference's per-character loop."""
    torch.manual_seed(0)
    model = ScratchRNN(59, 8, 3, fast=fast).eval()
    names = ["abc", "Qin", "Slaveya", "O'Neal", "x"]
    chars, lengths = encode(names)
    model(chars, lengths).square().sum().backward()
    batched = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    for name in names:
        x = torch.nn.functional.one_hot(encode([name])[0][0], 59).float()
        h = torch.zeros(1, 8)
        for t in range(len(name)):
            combined = torch.cat([x[t:t + 1], h], dim=1)
            output, h = model.in2output(combined), torch.sigmoid(model.in2hidden(combined))
        output.square().sum().backward()
    for got, expected in zip(batched, [p.grad for p in model.parameters()]):
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("fast", [True, False])
def test_scratch_rnn_initial_state_is_random_only_while_training(fast):
    torch.manual_seed(0)
    model = ScratchRNN(59, 16, 3, fast=fast)
    chars, lengths = encode(["Qin"])
    with torch.no_grad():
        assert not torch.equal(model.train()(chars, lengths), model(chars, lengths))
        assert torch.equal(model.eval()(chars, lengths), model(chars, lengths))


def test_gru_is_the_reference_shape():
    model = build_model(Config(arch="gru"), n_labels=18)
    assert isinstance(model.layers[0], torch.nn.GRU) and len(model.layers) == 1
    gru = model.layers[0]
    assert (gru.input_size, gru.hidden_size, gru.num_layers) == (59, 256, 2)
    assert (model.head.in_features, model.head.out_features) == (256, 18)
    assert model.embedding is None


def test_unknown_arch_is_refused():
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model(Config(arch="transformer"), 3)


@pytest.mark.parametrize("cell, layer", [("gru-cell", torch.nn.GRU), ("lstm-cell", torch.nn.LSTM)])
def test_scratch_cells_match_pytorch_layers(cell, layer):
    """The hand-written GRU/LSTM equal PyTorch's, given the same weights."""
    torch.manual_seed(0)
    reference = layer(59, 24, num_layers=2, batch_first=True)
    scratch = build_model(Config(arch=cell, hidden_size=24, num_layers=2), n_labels=3).layers[0]
    with torch.no_grad():
        for k, c in enumerate(scratch.cells):
            c.ih.weight.copy_(getattr(reference, f"weight_ih_l{k}"))
            c.ih.bias.copy_(getattr(reference, f"bias_ih_l{k}"))
            c.hh.weight.copy_(getattr(reference, f"weight_hh_l{k}"))
            c.hh.bias.copy_(getattr(reference, f"bias_hh_l{k}"))
        x = torch.randn(4, 7, 59)
        torch.testing.assert_close(scratch(x)[0], reference(x)[0], atol=1e-5, rtol=0)


def test_bidirectional_reads_names_from_both_ends():
    """The backward stack must see the name reversed within its length, not the padding."""
    torch.manual_seed(0)
    model = build_model(Config(arch="gru", hidden_size=8, num_layers=1, bidirectional=True), 3).eval()
    chars, lengths = encode(["abc", "x"])
    forward, backward = model.layers
    x = model.embed(chars)
    with torch.no_grad():
        expected = backward(model.embed(encode(["cba"])[0]))[0][:, -1]
        got = backward(reverse_padded(x, lengths))[0][0, 2]
    torch.testing.assert_close(got, expected[0])
