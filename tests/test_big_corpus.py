"""Big labelled CSV/TSV corpora: streamed, held as `EncodedNames`, trained on batch by batch, and
giving exactly what the list-of-strings path gives on the same data."""

from __future__ import annotations

import csv
import random
import tracemalloc
from dataclasses import replace

import numpy as np
import pytest
import torch

from nameorigin.config import resolve
from nameorigin.data.corpus import build_corpus, load_corpus, read_pairs, split_corpus
from nameorigin.data.encoded import EncodedNames
from nameorigin.models import tensors
from nameorigin.models.tensors import batch_source, encode
from nameorigin.errors import DataError

TUTORIAL_FINGERPRINT = "9777a479692642c957b8ed3b8a077ffcc6396c1f1b194c1198d0f4031bc47c60"
SUFFIXES = ["", "a", "ov", "ski", "ez", " Jr", "-Li", "ä", "1", ", Jr"]


def write_csv(path, names_dir, rows: int, seed: int = 7):
    """`rows` tutorial names with random suffixes (a few with a digit, so skipped), 18 labels."""
    pool = [(line.strip(), p.stem) for p in sorted(names_dir.glob("*.txt"))
            for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["name", "label"])
        for _ in range(rows):
            name, label = rng.choice(pool)
            out.writerow([name + rng.choice(SUFFIXES) * (rng.random() < 0.5), label])
    return path


@pytest.fixture(scope="module")
def big_csv(names_dir, tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("big") / "names.csv", names_dir, 50_000)


def _train(corpus, config):
    from nameorigin.training.pipeline import train, tutorial_metadata

    result = train(config, corpus, device="cpu", progress=False, log=lambda _m: None)
    meta = tutorial_metadata(corpus, result)
    meta["history"].pop("seconds")
    return result, meta


def test_a_csv_corpus_is_encoded_and_equals_the_string_corpus(big_csv):
    new = load_corpus(big_csv, progress=False)
    old = build_corpus(read_pairs(big_csv), str(big_csv))
    assert isinstance(new.names, EncodedNames) and isinstance(old.names, list)
    assert new.names.decode() == old.names and list(new.names) == old.names
    assert new.names[7] == old.names[7] and new.names[-1] == old.names[-1]
    assert np.array_equal(new.labels, old.labels) and new.label_names == old.label_names
    assert new.skipped == old.skipped and len(new.skipped) > 100
    assert new.fingerprint == old.fingerprint
    for kind in ("seed", "dedup"):
        a, b = split_corpus(new, kind, 42, 0.1, 0.1), split_corpus(old, kind, 42, 0.1, 0.1)
        assert all(np.array_equal(x, y) for x, y in zip((a.train, a.val, a.test), (b.train, b.val, b.test)))


@pytest.mark.parametrize("overrides", [{}, {"split": "dedup", "val_size": 0.1, "calibrate": True, "tune_bias": True}])
def test_a_csv_corpus_trains_to_the_same_checkpoint_as_the_string_path(big_csv, overrides):
    """Bit for bit: the batches hold the same rows in the same order and the same values, so the
    weights and every recorded metric must be equal, not merely close."""
    config = replace(resolve(None, "gru").validate(), epochs=1, hidden_size=32, **overrides)
    new_corpus = load_corpus(big_csv, progress=False)
    new, new_meta = _train(new_corpus, config)
    old, old_meta = _train(build_corpus(read_pairs(big_csv), str(big_csv)), config)
    assert new_meta == old_meta
    for (key, a), (_, b) in zip(new.model.state_dict().items(), old.model.state_dict().items()):
        assert torch.equal(a, b), key


def test_the_tutorial_fingerprint_is_the_same_from_arrays(names_dir):
    corpus = load_corpus(names_dir)
    as_arrays = replace(corpus, names=EncodedNames.from_names(corpus.names))
    assert corpus.fingerprint == as_arrays.fingerprint == TUTORIAL_FINGERPRINT


def test_ranks_and_fingerprint_sort_as_strings_do():
    rng = random.Random(3)
    names = ["".join(rng.choice("abAB .'-") for _ in range(rng.choice([1, 7, 8, 9, 16, 17, 25])))
             for _ in range(3000)]
    names += ["a" * 1000, "a" * 999, "a" * 1000, "abcdefgh", "abcdefgh", "abcdefghi", "abcdefg", "b"]
    e = EncodedNames.from_names(names)
    assert np.array_equal(e.ranks(), np.unique(names, return_inverse=True)[1])
    labels = np.array([rng.randrange(3) for _ in names])
    for label_names in (["B", "A", "AB"], ["A", "A B", "Ä"]):
        old = build_corpus([(n, label_names[y]) for n, y in zip(names, labels)], "x")
        assert replace(old, names=EncodedNames.from_names(old.names)).fingerprint == old.fingerprint


def test_batches_are_padded_to_their_own_longest_name():
    names = ["Qin", "Li", "Abcdefghij" * 100, "Smith"]
    take, lengths = batch_source(EncodedNames.from_names(names))
    rows = torch.tensor([3, 0])
    assert take(rows, int(lengths[rows].max())).shape == (2, 5)
    chars, _ = encode(names)
    assert torch.equal(take(rows, 5), chars[rows, :5])


def test_training_on_encoded_names_never_pads_the_whole_corpus(monkeypatch):
    from nameorigin.models import build_model
    from nameorigin.training.train import fit

    names = EncodedNames.from_names(["Qin", "Li", "Zhang", "Ivanov", "Petrov", "X" * 1000] * 4)
    labels = np.array([0, 0, 0, 1, 1, 1] * 4)
    monkeypatch.setattr(tensors, "encode", lambda _names: pytest.fail("the corpus was padded whole"))
    config = replace(resolve(None, "gru").validate(), epochs=1, hidden_size=8, batch_size=4)
    history = fit(build_model(config, 2), config, (names, labels), n_labels=2, progress=False, log=lambda _m: None)
    assert len(history.train_loss) == 1


def test_a_malformed_row_names_its_line_across_blocks(tmp_path, monkeypatch):
    """With 16-byte blocks every row spans blocks; lines end in LF, CRLF and lone CR, and a quoted
    field holds a line break: the rows, and the line an error names, are the whole file's."""
    from nameorigin.data import sources

    monkeypatch.setattr(sources, "_CHUNK", 16)
    head = 'name,label\r\nQin,Chinese\rIvanov,Russian\n"Smith,\r\nJr",English\r\n' + "Petrov,Russian\n" * 20
    path = tmp_path / "n.csv"
    path.write_text(head, newline="")
    assert read_pairs(path)[:4] == [("Qin", "Chinese"), ("Ivanov", "Russian"), ("Smith,\r\nJr", "English"),
                                    ("Petrov", "Russian")]
    path.write_text(head + "Ivanov,Russian,extra\n", newline="")
    with pytest.raises(DataError, match=r"n.csv, line 26: 3 fields, the header has 2"):
        load_corpus(path, progress=False)
    path.write_bytes(head.encode() + b"Iv\xffanov,Russian\n")
    with pytest.raises(DataError, match=r"n.csv, line 26: not valid UTF-8"):
        load_corpus(path, progress=False)
    path.write_text(head + "Qin,\n", newline="")
    with pytest.raises(DataError, match=r"n.csv, line 26: empty label"):
        load_corpus(path, progress=False)


def test_a_name_outside_the_alphabet_is_skipped_and_counted(tmp_path):
    path = tmp_path / "n.tsv"
    path.write_text("name\tlabel\nRafaj1\tCzech\nQin\tChinese\n\U0001F642\tChinese\nŚlusàrski\tPolish\n"
                    "Ivanov\tRussian\n", encoding="utf-8")
    corpus = load_corpus(path, progress=False)
    assert corpus.skipped == [("Rafaj1", "Czech")]
    assert list(corpus.names) == ["Qin", "Slusarski", "Ivanov"]
    assert corpus.label_names == ["Chinese", "Czech", "Polish", "Russian"]  # as the string path counts them
    assert corpus.labels.tolist() == [0, 2, 3]


def test_encoding_memory_is_proportional_to_the_text(names_dir, tmp_path):
    """200,000 names: the list path peaked at 55 MB in Python objects; arrays take a few bytes a
    name, and the rows in flight are one 65,536-row chunk."""
    path = write_csv(tmp_path / "n.csv", names_dir, 200_000, seed=1)
    tracemalloc.start()
    try:
        corpus = load_corpus(path, progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(corpus) > 190_000
    assert peak < 20 << 20, f"encoding 200,000 names peaked at {peak / 2**20:.1f} MB"
