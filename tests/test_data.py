from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

from nameorigin.text.names import ALPHABET
from nameorigin.data.corpus import build_corpus, load_corpus, normalize, read_pairs, split_corpus
from nameorigin.models.tensors import encode
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
    from nameorigin.data.corpus import stratified_holdout

    strata = np.repeat(["a", "b", "c"], [53, 31, 16])
    held = stratified_holdout(strata, 0.2, seed=3)
    # exact shares 10.6 / 6.2 / 3.2 sum to 20: the one left over after rounding down goes to "a"
    assert [held[strata == c].sum() for c in "abc"] == [11, 6, 3]
    assert np.array_equal(held, stratified_holdout(strata, 0.2, seed=3))
    assert not np.array_equal(held, stratified_holdout(strata, 0.2, seed=4))


def _names_folder(tmp_path, **files):
    folder = tmp_path / "names"
    folder.mkdir()
    for label, text in files.items():
        (folder / f"{label}.txt").write_bytes(text if isinstance(text, bytes) else text.encode())
    return folder


def test_lines_may_end_in_a_lone_cr(tmp_path):
    folder = _names_folder(tmp_path, Chinese="Qin\rLi\rZhang\r", Russian="Ivanov\r\nPetrov\r\n\r\n")
    assert read_pairs(folder) == [("Qin", "Chinese"), ("Li", "Chinese"), ("Zhang", "Chinese"),
                                  ("Ivanov", "Russian"), ("Petrov", "Russian")]
    (folder / "Chinese.txt").write_bytes(b"Qin\rLi\r\xff\r")
    with pytest.raises(DataError, match=r"Chinese.txt, line 3: not valid UTF-8"):
        read_pairs(folder)


def test_a_zip_that_unpacks_past_the_bound_is_refused_unread(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data/names/Russian.txt", "Ivanov\n")
        with archive.open("data/names/Chinese.txt", "w") as member:
            for _ in range(70):
                member.write(b"\n" * (1 << 20))
    assert bomb.stat().st_size < 200_000
    with pytest.raises(DataError, match=r"bomb.zip: unpacks to 70 MB, more than the 64 MB"):
        read_pairs(bomb)


def test_a_zip_whose_headers_understate_its_sizes_is_refused(tmp_path):
    import struct

    path = _zip(tmp_path / "lying.zip", {"data/names/Chinese.txt": "Qin\n" * 1000, "data/names/Russian.txt": "Ivanov\n"})
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # uncompressed size: 4000 -> 40
        at = data.find(signature)
        data[at + offset:at + offset + 4] = struct.pack("<I", 40)
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"member 'data/names/Chinese.txt' is corrupt"):
        read_pairs(path)


def test_too_many_members_files_or_names_are_refused(tmp_path, monkeypatch):
    from nameorigin.data import sources

    monkeypatch.setattr(sources, "MAX_FILES", 3)
    many = {f"data/names/L{i}.txt": "Qin\n" for i in range(4)}
    with pytest.raises(DataError, match="4 members, more than the 3"):
        read_pairs(_zip(tmp_path / "many.zip", many))
    monkeypatch.setattr("nameorigin.data.corpus.MAX_FILES", 3)
    with pytest.raises(DataError, match="4 .Label..txt files, more than the 3"):
        read_pairs(_names_folder(tmp_path, **{f"L{i}": "Qin\n" for i in range(4)}))
    monkeypatch.setattr(sources, "MAX_NAMES", 5)
    monkeypatch.setattr(sources, "MAX_TABLE_NAMES", 5)  # a CSV/TSV file has bounds of its own
    (tmp_path / "n.csv").write_text("name,label\n" + "Qin,Chinese\n" * 6)
    for source in (tmp_path / "n.csv", _zip(tmp_path / "six.zip", {"data/names/A.txt": "Qin\n" * 6})):
        with pytest.raises(DataError, match="more than 5 names"):
            read_pairs(source)
    monkeypatch.setattr(sources, "MAX_BYTES", 50)
    monkeypatch.setattr(sources, "MAX_TABLE_BYTES", 50)
    with pytest.raises(DataError, match="n.csv: the corpus holds more than .* MB of text"):
        read_pairs(tmp_path / "n.csv")


def test_a_corrupt_deflate_stream_is_a_data_error(tmp_path):
    path = tmp_path / "corrupt.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data/names/Chinese.txt", "".join(f"Qin{i}\n" for i in range(500)))
        archive.writestr("data/names/Russian.txt", "Ivanov\n")
    data = bytearray(path.read_bytes())
    start = data.find(b"PK\x03\x04") + 30 + len("data/names/Chinese.txt")
    data[start:start + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"member 'data/names/Chinese.txt' is corrupt \(Error -3"):
        read_pairs(path)


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_only_regular_files_are_read_from_a_corpus_folder(tmp_path, kind):
    """In a child with 2 GB of address space and a deadline: reading /dev/zero took all the
    memory, and a FIFO nobody writes to waited forever."""
    import resource
    import subprocess
    import sys

    folder = _names_folder(tmp_path, Russian="Ivanov\n")
    if kind == "device":
        (folder / "Chinese.txt").symlink_to("/dev/zero")
    else:
        os.mkfifo(folder / "Chinese.txt")
    limit = lambda: resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))  # noqa: E731
    proc = subprocess.run([sys.executable, "-c", "import sys; from nameorigin.data.corpus import read_pairs; "
                           "from pathlib import Path; read_pairs(Path(sys.argv[1]))", str(folder)],
                          capture_output=True, text=True, timeout=60, preexec_fn=limit,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    name = "a device" if kind == "device" else "a named pipe"
    assert f"DataError: {folder / 'Chinese.txt'}: {name}, not a [Label].txt file" in proc.stderr


def test_a_folder_named_like_a_class_file_is_status_2(tmp_path, capsys):
    from nameorigin.cli import main

    folder = _names_folder(tmp_path, Chinese="Qin\n", Russian="Ivanov\n")
    (folder / "Greek.txt").mkdir()
    assert main(["train", "--data", str(folder), "--out", str(tmp_path / "model"), "--quiet"]) == 2
    assert capsys.readouterr().err == f"nameorigin: error: {folder / 'Greek.txt'}: a folder, not a [Label].txt file; " \
                                      "a corpus holds regular files\n"


def test_a_csv_table_has_wider_bounds_than_a_folder_or_zip(tmp_path, monkeypatch):
    """A CSV/TSV file is streamed into arrays, so it may hold far more than a folder of
    [Label].txt files; it is still bounded."""
    from nameorigin.data import sources

    assert (sources.MAX_TABLE_NAMES, sources.MAX_TABLE_BYTES) == (20_000_000, 2 << 30)
    monkeypatch.setattr(sources, "MAX_NAMES", 5)
    monkeypatch.setattr(sources, "MAX_BYTES", 50)
    (tmp_path / "n.csv").write_text("name,label\n" + "Qin,Chinese\nIvanov,Russian\n" * 3)
    assert len(load_corpus(tmp_path / "n.csv", progress=False)) == 6
    with pytest.raises(DataError, match="more than 5 names; nameorigin reads corpora up to that size"):
        read_pairs(_names_folder(tmp_path, Chinese="Qin\n" * 3, Russian="Ivanov\n" * 3))
    monkeypatch.setattr(sources, "MAX_TABLE_NAMES", 5)
    with pytest.raises(DataError, match="more than 5 names; nameorigin reads CSV/TSV corpora up to that size"):
        load_corpus(tmp_path / "n.csv", progress=False)


def test_a_table_line_longer_than_a_megabyte_is_refused(tmp_path):
    path = tmp_path / "n.csv"
    path.write_bytes(b"name,label\nQin,Chinese\n" + b"x" * (3 << 20))
    with pytest.raises(DataError, match=r"n.csv, line 3: a line of more than 1 MB"):
        load_corpus(path, progress=False)
