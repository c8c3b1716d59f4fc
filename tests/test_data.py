from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

from nameorigin.data import (ALPHABET, build_corpus, encode, load_corpus, normalize, read_pairs,
                             split_corpus)
from nameorigin.errors import DataError

LANGUAGES = ["Arabic", "Chinese", "Czech", "Dutch", "English", "French", "German", "Greek", "Irish",
             "Italian", "Japanese", "Korean", "Polish", "Portuguese", "Russian", "Scottish", "Spanish",
             "Vietnamese"]


@pytest.fixture(scope="module")
def corpus(names_dir):
    return load_corpus(names_dir)


def test_alphabet_is_the_references_59_symbols():
    assert len(ALPHABET) == 59 and ALPHABET.endswith(" .,:;-'")


def test_official_corpus_counts_and_sorted_labels(corpus):
    assert corpus.label_names == LANGUAGES
    assert len(corpus) == 20_070
    assert sorted(raw for raw, _ in corpus.skipped) == ["Maxa/B", "Rafaj1", "Urbanek1", "Whitmire1"]


def test_names_are_transliterated():
    assert normalize("  Ślusàrski ") == "Slusarski"


def test_zip_and_folder_give_the_same_corpus(corpus, data_zip):
    from_zip = load_corpus(data_zip)
    assert from_zip.fingerprint == corpus.fingerprint
    assert from_zip.label_names == corpus.label_names


def test_parent_folder_of_names_is_accepted(corpus, names_dir):
    assert load_corpus(names_dir.parent).fingerprint == corpus.fingerprint


def test_env_variable_points_at_the_corpus(corpus, names_dir, monkeypatch):
    monkeypatch.setenv("NAMEORIGIN_DATA", str(names_dir))
    assert load_corpus().fingerprint == corpus.fingerprint


def test_fingerprint_ignores_row_order_but_not_content():
    a = build_corpus([("Qin", "Chinese"), ("Ivanov", "Russian")], "a")
    b = build_corpus([("Ivanov", "Russian"), ("Qin", "Chinese")], "b")
    c = build_corpus([("Ivanov", "Russian"), ("Qin", "Korean")], "c")
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_seed_split_matches_the_reference_sizes(corpus):
    split = split_corpus(corpus, "seed", 42)
    assert (len(split.train), len(split.test)) == (18_063, 2_007)
    assert not set(split.train) & set(split.test)
    again = split_corpus(corpus, "seed", 42)
    assert np.array_equal(split.test, again.test)
    assert not np.array_equal(split.test, split_corpus(corpus, "seed", 7).test)
    # stratified: every class keeps about a tenth of its names in the test split
    counts = np.bincount(corpus.labels[split.test], minlength=18)
    totals = np.bincount(corpus.labels, minlength=18)
    assert np.all(np.abs(counts - totals * 0.1) <= 1)


def test_dedup_split_shares_no_name_between_sides(corpus):
    split = split_corpus(corpus, "dedup", 42)
    train = {corpus.names[i] for i in split.train}
    test = {corpus.names[i] for i in split.test}
    assert not train & test
    assert 0.07 < len(split.test) / (len(split.train) + len(split.test)) < 0.13
    pairs = [(corpus.names[i], corpus.labels[i]) for i in np.concatenate([split.train, split.test])]
    assert len(pairs) == len(set(pairs)) < len(corpus)
    assert set(corpus.labels[split.test]) == set(range(18))
    assert np.array_equal(split.test, split_corpus(corpus, "dedup", 42).test)


def test_encode_pads_and_reports_lengths():
    chars, lengths = encode(["ab", "Qin'"])
    assert chars.shape == (2, 4)
    assert lengths.tolist() == [2, 4]
    assert chars[1].tolist() == [ALPHABET.index(c) for c in "Qin'"]
    with pytest.raises(ValueError):
        encode(["a1"])


def test_csv_and_tsv_corpora(tmp_path):
    (tmp_path / "n.csv").write_text("name,label\nQin,Chinese\n\"Smith, Jr\",English\nIvanov,Russian\n")
    (tmp_path / "n.tsv").write_text("label\tname\nChinese\tQin\nRussian\tIvanov\n")
    assert read_pairs(tmp_path / "n.csv") == [("Qin", "Chinese"), ("Smith, Jr", "English"), ("Ivanov", "Russian")]
    assert read_pairs(tmp_path / "n.tsv") == [("Qin", "Chinese"), ("Ivanov", "Russian")]


@pytest.mark.parametrize("content, message", [
    ("name,label\nQin,Chinese\nIvanov,Russian,extra\n", "line 3: 3 fields"),
    ("nom,langue\nQin,Chinese\n", "line 1: the header needs 'name' and 'label'"),
    ("name,label\nQin,\n", "line 2: empty label"),
    ("", "empty"),
])
def test_bad_tables_name_the_line(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        load_corpus(path)


def test_bad_encoding_names_file_and_line(tmp_path):
    folder = tmp_path / "names"
    folder.mkdir()
    (folder / "Chinese.txt").write_bytes(b"Qin\nLi\n\xff\xfeZhang\n")
    (folder / "Russian.txt").write_text("Ivanov\n")
    with pytest.raises(DataError, match=r"Chinese.txt, line 3: not valid UTF-8"):
        load_corpus(folder)


@pytest.mark.parametrize("setup", ["missing", "empty_folder", "other_file", "one_label"])
def test_unusable_sources_are_explained(tmp_path, setup):
    target = tmp_path / "x"
    if setup == "empty_folder":
        target.mkdir()
    elif setup == "other_file":
        target = tmp_path / "names.json"
        target.write_text("{}")
    elif setup == "one_label":
        target.mkdir()
        (target / "Chinese.txt").write_text("Qin\nLi\n")
    with pytest.raises(DataError):
        load_corpus(target)


def _zip(path, members: dict[str, str], encrypted: bool = False):
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    if encrypted:  # mark the members as password-protected: flag bit 0 in both headers
        data = bytearray(path.read_bytes())
        for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            at = data.find(signature)
            while at != -1:
                data[at + offset] |= 0x1
                at = data.find(signature, at + 4)
        path.write_bytes(bytes(data))
    return path


def test_odd_archives_are_read_or_explained(tmp_path):
    finder = _zip(tmp_path / "mac.zip", {"data/names/Greek.txt": "Papadopoulos\n", "data/names/Irish.txt": "Ryan\n",
                                         "__MACOSX/data/names/._Greek.txt": "\x00\x05\x16\x07 binary"})
    assert read_pairs(finder) == [("Papadopoulos", "Greek"), ("Ryan", "Irish")]
    two = _zip(tmp_path / "two.zip", {"data/names/Greek.txt": "Papadopoulos\n", "backup/names/Greek.txt": "Ryan\n"})
    with pytest.raises(DataError, match="files in 2 folders .*one corpus"):
        read_pairs(two)
    locked = _zip(tmp_path / "locked.zip", {"data/names/Greek.txt": "Papadopoulos\n"}, encrypted=True)
    with pytest.raises(DataError, match="can't unpack the archive .*encrypted"):
        read_pairs(locked)


def test_a_class_too_small_to_split_is_explained(tmp_path):
    from nameorigin.errors import DataError

    (tmp_path / "n.csv").write_text("name,label\n" + "".join(f"Ivanov{c},Russian\n" for c in "abcdefghij")
                                    + "Qin,Chinese\n")
    with pytest.raises(DataError, match=r"cannot make a stratified split .*\(the smallest has 1\)"):
        split_corpus(load_corpus(tmp_path / "n.csv"))


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_a_path_that_is_neither_folder_nor_file_is_named_for_what_it_is():
    with pytest.raises(DataError, match=r"^/dev/null: not a folder, a \.zip archive or a \.csv/\.tsv file$"):
        load_corpus("/dev/null")


def test_stratified_holdout_gives_each_class_its_share_by_largest_remainder():
    from nameorigin.data import stratified_holdout

    strata = np.repeat(["a", "b", "c"], [53, 31, 16])
    held = stratified_holdout(strata, 0.2, seed=3)
    # exact shares 10.6 / 6.2 / 3.2 sum to 20: the one left over after rounding down goes to "a"
    assert [held[strata == c].sum() for c in "abc"] == [11, 6, 3]
    assert np.array_equal(held, stratified_holdout(strata, 0.2, seed=3))
    assert not np.array_equal(held, stratified_holdout(strata, 0.2, seed=4))
