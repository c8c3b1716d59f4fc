from __future__ import annotations

import numpy as np
import torch

from nameorigin.config import PRESETS, Config
from nameorigin.data.corpus import load_corpus
from nameorigin.training.pipeline import train
from nameorigin.training.train import length_batches


def _weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_training_is_deterministic_with_a_seed_and_learns(small_corpus):
    corpus = load_corpus(small_corpus)
    config = Config(arch="rnn", hidden_size=32, epochs=3, batch_size=8, lr=1e-2)
    a = train(config, corpus, progress=False, log=lambda s: None)
    b = train(config, corpus, progress=False, log=lambda s: None)
    assert torch.equal(_weights(a.model), _weights(b.model))
    assert a.history.train_loss[-1] < a.history.train_loss[0]
    c = train(Config(**{**config.to_dict(), "seed": 1}), corpus, progress=False, log=lambda s: None)
    assert not torch.equal(_weights(a.model), _weights(c.model))


def test_batch_size_one_is_the_reference_loop(small_corpus):
    corpus = load_corpus(small_corpus)
    config = Config(arch="gru", hidden_size=16, num_layers=1, epochs=1, batch_size=1, schedule="constant")
    result = train(config, corpus, progress=False, log=lambda s: None)
    assert len(result.history.train_loss) == 1


def test_length_batches_cover_every_row_once_with_similar_lengths():
    lengths = np.random.default_rng(0).integers(1, 20, size=1000)
    batches = list(length_batches(lengths, 16, np.random.default_rng(1)))
    rows = np.concatenate(batches)
    assert sorted(rows.tolist()) == list(range(1000))
    spread = np.mean([lengths[b].max() - lengths[b].min() for b in batches])
    assert spread < 3


def test_logit_bias_is_kept_at_zero_unless_it_helps_macro_f1():
    from nameorigin.training.pipeline import tune_logit_bias

    prior = np.array([0.9, 0.1])
    labels = np.array([0] * 9 + [1])
    perfect = torch.tensor([[2.0, 0.0]] * 9 + [[0.0, 2.0]])
    assert tune_logit_bias(perfect, labels, prior)[0] == 0.0
    # the minority class is under-predicted: a positive t (boosting rare classes) fixes it
    shy = torch.tensor([[2.0, 0.0]] * 9 + [[1.0, 0.5]])
    t, bias = tune_logit_bias(shy, labels, prior)
    assert t > 0 and ((shy.numpy() + bias).argmax(1) == labels).all()


def test_reference_presets_are_the_reference_settings():
    """What the write-up trained: one name per step, Adam 1e-3, 2 epochs, 256 units; it clipped
    the RNN's gradients at 1.0 and left the GRU's unclipped."""
    rnn, gru = PRESETS["reference-rnn"][0], PRESETS["reference-gru"][0]
    for config in (rnn, gru):
        assert (config.batch_size, config.lr, config.schedule, config.epochs, config.hidden_size) == (
            1, 1e-3, "constant", 2, 256)
        assert (config.embedding_dim, config.weight_decay, config.label_smoothing, config.class_weight) == (0, 0, 0, 0)
    assert (rnn.arch, rnn.clip) == ("rnn", 1.0)
    assert (gru.arch, gru.num_layers, gru.bidirectional, gru.clip) == ("gru", 2, False, 0.0)


def test_a_diverging_run_stops_at_the_first_non_finite_loss(small_corpus, tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "nameorigin.cli", "train", "--arch", "rnn", "--epochs", "3",
                           "--lr", "1e38", "--data", str(small_corpus), "--out", str(tmp_path / "m"), "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "training diverged" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists()


def test_running_out_of_memory_is_an_error_that_says_what_to_lower(small_corpus, tmp_path, monkeypatch):
    import pytest

    from nameorigin.training import members, pipeline
    from nameorigin.config import Config
    from nameorigin.errors import NameOriginError

    def no_memory(*args, **kwargs):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 10**14 bytes")

    monkeypatch.setattr(members, "build_model", no_memory)
    with pytest.raises(NameOriginError, match="out of memory while training.*lower --batch-size"):
        pipeline.train_and_save(Config(arch="rnn"), str(tmp_path / "m"), data=str(small_corpus), progress=False,
                                log=lambda s: None)


def test_sizes_past_what_a_checkpoint_may_hold_are_refused_before_training():
    import pytest

    from nameorigin.config import Config

    with pytest.raises(ValueError, match="--hidden-size must be from 1 to 4096"):
        Config(hidden_size=4_000_000).validate()


def test_a_surname_share_outside_0_to_1_is_refused_before_training():
    import pytest

    from nameorigin.config import Config

    with pytest.raises(ValueError, match="--surname-share must be from 0 to 1, not 1.5"):
        Config(surname_share=1.5).validate()
    assert Config(surname_share=1.0).validate().surname_share == 1.0


def test_tutorial_repeat_reaches_the_config_from_its_flag_and_is_bounded():
    import pytest

    from nameorigin.cli.parser import build_parser
    from nameorigin.cli.commands import _config
    from nameorigin.errors import NameOriginError

    args = build_parser().parse_args(["train", "--preset", "world", "--tutorial-repeat", "6", "--out", "x"])
    assert _config(args).tutorial_repeat == 6
    assert _config(build_parser().parse_args(["train", "--preset", "world", "--out", "x"])).tutorial_repeat == 4
    with pytest.raises(NameOriginError, match="--tutorial-repeat must be from 1 to 100, not 101"):
        _config(build_parser().parse_args(["train", "--preset", "world", "--tutorial-repeat", "101", "--out", "x"]))
