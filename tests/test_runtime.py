"""The numpy runtime answers as the PyTorch networks do: every architecture a checkpoint can hold,
on real names, within 1e-5 in probability."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from nameorigin import checkpoint, load_model
from nameorigin.checkpoint.bundled import model_path
from nameorigin.config import Config
from nameorigin.data.corpus import load_corpus
from nameorigin.models import build_model
from nameorigin.models.tensors import encode, module_logits
from nameorigin.runtime import build, expected_shapes
from nameorigin.runtime.networks import softmax
from nameorigin.text.readings import prepare

CONFIGS = {
    "rnn": Config(arch="rnn", hidden_size=32),
    "gru": Config(arch="gru", hidden_size=24, num_layers=2),
    "gru-bidirectional-embedding": Config(arch="gru", hidden_size=16, num_layers=1, bidirectional=True, embedding_dim=8),
    "gru-deep-bidirectional": Config(arch="gru", hidden_size=12, num_layers=3, bidirectional=True, dropout=0.3),
    "lstm": Config(arch="lstm", hidden_size=16, num_layers=2, embedding_dim=8),
    "lstm-bidirectional": Config(arch="lstm", hidden_size=12, num_layers=1, bidirectional=True),
    "gru-cell": Config(arch="gru-cell", hidden_size=16, num_layers=2),
    "lstm-cell-bidirectional": Config(arch="lstm-cell", hidden_size=12, num_layers=2, bidirectional=True),
    "head-and-ngrams": Config(arch="gru", hidden_size=16, num_layers=1, bidirectional=True, embedding_dim=8,
                              head_size=16, ngram_dim=6, ngram_buckets=97),
    "ngrams-words-6": Config(arch="gru", hidden_size=12, num_layers=1, ngram_dim=4, ngram_buckets=1009, ngram_max=6,
                             ngram_words=True),
    "ensemble": Config(arch="gru", hidden_size=12, num_layers=1, bidirectional=True, ensemble=3),
}


@pytest.fixture(scope="module")
def real_names(names_dir) -> list[str]:
    """Every 10th name of the tutorial corpus, as the tutorial model reads them, and the same
    names in lower case joined in pairs, as full names of every length."""
    names = load_corpus(names_dir).names[::10]
    pairs = [f"{a} {b}".lower() for a, b in zip(names[::2], names[1::2])]
    return names + pairs + ["A", "Li", "O'Neil-Smith"]


@pytest.mark.parametrize("name", CONFIGS)
def test_every_architecture_answers_as_its_module(name, real_names):
    torch.manual_seed(sum(map(ord, name)))
    config = CONFIGS[name]
    model = build_model(config, 7).eval()
    for p in model.parameters():  # beyond initialisation: weights the size training leaves
        torch.nn.init.normal_(p, std=0.5)
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == expected_shapes(config, 7)
    network = build(config, state, 7)
    for start in range(0, len(real_names), 512):
        chars, lengths = encode(real_names[start:start + 512])
        with torch.no_grad():
            expected = torch.softmax(model(chars, lengths), dim=1).numpy()
        got = softmax(network(chars.numpy(), lengths.numpy()))
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("bundled", ["tutorial", "world"])
def test_bundled_models_answer_as_their_pytorch_networks(bundled, real_names, wiki_file):
    """The shipped models on the tutorial's names and on Wikipedia's, both backends end to end."""
    with open(wiki_file, encoding="utf-8") as f:
        wiki = [line.split("\t", 1)[0] for _, line in zip(range(3000), itertools.islice(f, 1, None))]
    names = real_names + wiki
    numpy_ = load_model(bundled).predict_proba(names)
    torch_ = load_model(bundled, backend="torch").predict_proba(names)
    np.testing.assert_allclose(numpy_, torch_, rtol=0, atol=1e-5, equal_nan=True)


def test_module_logits_keep_input_order_across_batches():
    torch.manual_seed(2)
    config = CONFIGS["gru-bidirectional-embedding"]
    model = build_model(config, 4)
    names = ["O", "Li", "Qin", "Nguyen", "Abramovich", "Schwarzenegger-Montgomery", "D'Arcy"] * 7
    expected = model.eval()(*encode(names))
    torch.testing.assert_close(module_logits(model, names, budget=40), expected, atol=1e-5, rtol=0)


def test_read_weights_are_the_modules():
    """`checkpoint.read` (numpy, no network built) gives the weights `checkpoint.load` builds from."""
    state, meta = checkpoint.read(model_path("tutorial"))
    model, _ = checkpoint.load(model_path("tutorial"))
    assert set(state) == set(model.state_dict())
    for key, tensor in model.state_dict().items():
        np.testing.assert_array_equal(state[key], tensor.numpy())


@pytest.mark.parametrize("threads", [1, 2])
def test_threads_do_not_change_an_answer(threads):
    names = [prepare(n, "lower").text for n in ["Angela Merkel", "Qin Shi", "Robert Lewandowski"] * 400]
    one, many = load_model("world", threads=1), load_model("world", threads=threads)
    np.testing.assert_array_equal(one.logits(names), many.logits(names))


def test_a_module_the_runtime_cannot_read_scores_itself_and_keeps_its_mode():
    """A network not made by `build_model` (no config to rebuild it from) runs itself, in eval
    mode, and is handed back in the mode it came in."""
    from nameorigin.models.recurrent import RecurrentClassifier

    torch.manual_seed(3)
    model = RecurrentClassifier("gru", 59, 8, 4, bidirectional=True, dropout=0.5).train()
    names = ["O", "Li", "Qin", "Nguyen", "Abramovich"] * 9
    got = module_logits(model, names, budget=30)
    assert model.training
    torch.testing.assert_close(got, model.eval()(*encode(names)), atol=1e-5, rtol=0)
