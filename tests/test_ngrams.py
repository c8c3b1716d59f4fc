"""The hashed n-gram bag: which n-grams a name has, and that padding and batch-mates change nothing."""

import torch

from nameorigin.models.tensors import encode
from nameorigin.models.ngrams import MAX_ORDER, NgramBag, ngram_buckets

ORDERS = range(2, MAX_ORDER + 1)  # the default bag's n-gram lengths


def ids_of(name: str, n_buckets: int = 1009, max_order: int = MAX_ORDER, words: bool = False) -> list[int]:
    chars, lengths = encode([name])
    return [i for i in ngram_buckets(chars, lengths, n_buckets, max_order, words)[0].tolist() if i]


def test_a_name_has_its_marked_ngrams_and_no_others():
    # "ab" marked is ^ab$: bigrams ^a ab b$, trigrams ^ab ab$, 4-gram ^ab$
    assert len(ids_of("ab")) == 6
    assert len(ids_of("a")) == 3  # ^a a$ ^a$
    n = len("Merkel") + 2
    assert len(ids_of("Merkel")) == sum(n - k + 1 for k in ORDERS)


def test_the_same_ngram_gets_the_same_bucket_wherever_it_is():
    assert ids_of("abab").count(ids_of("ab")[1]) == 2  # the bigram "ab", twice
    assert set(ids_of("Smith")) != set(ids_of("Smyth"))


def test_word_marks_let_a_given_name_be_one_ngram_alone_and_in_a_full_name():
    whole = ids_of("Mike", max_order=6, words=True)[-1]  # ^Mike$, the one 6-gram
    assert whole in ids_of("Mike Tyson", max_order=6, words=True)  # as ^Mike^
    assert whole not in ids_of("Mike Tyson", max_order=6)  # without word marks: ^Mike and "Mike "
    assert ids_of("Mike Tyson", max_order=6, words=True) != ids_of("MikeTyson", max_order=6, words=True)


def test_longer_orders_add_their_ngrams_and_keep_the_shorter_ones():
    n = len("Tanaka") + 2
    assert len(ids_of("Tanaka", max_order=6)) == sum(n - k + 1 for k in range(2, 7))
    assert ids_of("Tanaka") == ids_of("Tanaka", max_order=6)[:len(ids_of("Tanaka"))]


def test_buckets_stay_in_range_and_zero_marks_padding():
    chars, lengths = encode(["Angela Merkel", "Li", "Nguyen Van An"])
    ids = ngram_buckets(chars, lengths, 7)
    assert int(ids.min()) == 0 and int(ids.max()) <= 6
    assert (ids[1] > 0).sum() == sum(len("Li") + 3 - k for k in ORDERS)
    assert ids_of("A", max_order=8) == ids_of("A")  # a name shorter than the longest n-gram has none of it


def test_long_ngrams_hash_as_exact_integer_arithmetic_says():
    """The largest codes there are (8-grams of the last character): int64 must not overflow."""
    from nameorigin.runtime.ngrams import BASE as _BASE, MIX as _MIX, PRIME as _PRIME

    name, n_buckets = "'" * 10, 2**24
    chars, lengths = encode([name])
    marked = [0] + [c + 1 for c in chars[0].tolist()] + [0]
    expected = []
    for n in range(2, 9):
        for start in range(len(marked) - n + 1):
            code = 0
            for c in marked[start:start + n]:
                code = code * _BASE + c
            expected.append(((code % _PRIME) * _MIX + n) % (n_buckets - 1) + 1)
    assert ids_of(name, n_buckets, max_order=8) == expected


def test_the_bag_ignores_padding_and_batch_mates():
    torch.manual_seed(0)
    bag = NgramBag(101, 5)
    alone = bag(*encode(["Tanaka"]))
    chars, lengths = encode(["Tanaka", "Hiroshi Tanaka Yamamoto"])
    torch.testing.assert_close(bag(chars, lengths)[:1], alone)


def test_a_saved_model_answers_as_it_did_before_saving(tmp_path):
    from nameorigin import checkpoint
    from nameorigin.config import Config
    from nameorigin.models import build_model
    from nameorigin.models.ngrams import round_like_storage

    torch.manual_seed(0)
    config = Config(arch="gru", hidden_size=8, num_layers=1, embedding_dim=4, ngram_dim=6, ngram_buckets=301)
    model = build_model(config, 3).eval()
    round_like_storage(model)
    chars, lengths = encode(["Merkel", "Li", "Angela Merkel"])
    meta = {"config": config.to_dict(), "labels": ["a", "b", "c"], "temperature": 1.0, "logit_bias": None}
    checkpoint.save(tmp_path / "m", model, meta)
    loaded, _ = checkpoint.load(tmp_path / "m")
    assert loaded.ngrams.vectors.weight.dtype == torch.float32
    torch.testing.assert_close(loaded(chars, lengths), model(chars, lengths), rtol=0, atol=0)
    from safetensors import safe_open
    with safe_open(str(tmp_path / "m" / "model.safetensors"), "pt") as f:
        assert f.get_tensor("ngrams.vectors.weight").dtype == torch.float16
        assert f.get_tensor("head.weight").dtype == torch.float32


def test_ngrams_are_left_out_in_training_only():
    torch.manual_seed(0)
    bag = NgramBag(1009, 4, drop=0.5)
    chars, lengths = encode(["Angela Merkel"] * 64)
    bag.eval()
    first = bag(chars, lengths)
    torch.testing.assert_close(first, bag(chars, lengths), rtol=0, atol=0)
    bag.train()
    dropped = bag(chars, lengths)
    assert not torch.allclose(dropped[0], first[0]) and not torch.allclose(dropped[0], dropped[1])
