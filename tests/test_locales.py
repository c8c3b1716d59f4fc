"""The locale lists: the table built from Faker and Mimesis, its curation and split, Japanese
readings, the teacher that relabels diaspora names, and a world run that reads the table."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from nameorigin.errors import DataError
from nameorigin.data.locales import BORROWED, IMMIGRANT, LOCALES, NOT_A_NAME, SCOTTISH, SCRIPT, Entry, curate, part_of
from nameorigin.data.localedata import read_table
from nameorigin.text.readings import japanese, romanize

def test_every_tradition_the_issue_names_is_mapped_to_its_label():
    for locale in ("tr_TR", "sv_SE", "da_DK", "no_NO", "fi_FI", "hu_HU", "ro_RO", "lt_LT", "lv_LV", "et_EE",
                   "hi_IN", "ne_NP", "id_ID", "th_TH", "ka_GE", "hy_AM", "yo_NG", "en_KE"):
        assert LOCALES[locale] == "Other", locale
    assert LOCALES["pl_PL"] == "Polish" and LOCALES["es_ES"] == "Spanish" and LOCALES["ja_JP"] == "Japanese"
    for mixed in ("en_US", "en", "de_CH", "fr_BE", "uk_UA"):  # lists that mix traditions are not read
        assert mixed not in LOCALES


def test_a_name_falls_in_one_part_whatever_list_holds_it():
    assert part_of("nowak") == part_of("Nowak") == part_of("NOWAK")
    words = [a + b + c for a in "bcdfghjklmnp" for b in "aeiouy" for c in "rstvwxz"] * 1
    parts = Counter(part_of(w + w[::-1]) for w in words)
    assert 0.68 < parts["train"] / 504 < 0.82 and 0.10 < parts["test"] / 504 < 0.20


def test_japanese_names_in_kanji_are_read_in_japanese():
    assert japanese("田中 太郎") == japanese("田中太郎") == "Tanaka Taro"
    assert romanize("田中", "Japanese") == "Tanaka" and romanize("田中") == "Tian Zhong"
    assert romanize("ゆうき", "Japanese") == "Yuki"
    assert romanize("Wiśniewski", "Polish") == "Wisniewski"


def test_no_character_is_lost_in_a_japanese_reading():
    """pykakasi drops the second of two characters it cannot read; the reading keeps both, so 孙伟
    is not scored as the family name alone."""
    def read(name: str) -> str:
        return " ".join(romanize(name, "Japanese").split())

    assert read("孙伟") == read("孙 伟") == "Sun Wei"
    assert read("王伟") == "O Wei" and japanese("a田中b") == "A Tanaka B"


def test_curation_drops_what_is_not_a_name_of_its_tradition_and_says_why(locale_entries):
    raw = locale_entries + [Entry("Nowak", "Polish", "family", "pl", "mimesis"),  # a duplicate, merged
                       Entry("محمد", "Arabic", "given", "ar_AA", "faker"),  # the script rule answers it
                       Entry("Dr. 2nd", "German", "family", "de_DE", "faker"),
                       Entry("Oliver", "Other", "given", "sv_SE", "faker"),  # borrowed from the English list
                       Entry("Yilmaz", "German", "family", "de_AT", "faker")]  # a Turkish family in Austria
    curated = curate(raw)
    assert curated.dropped[SCRIPT] == 1 and curated.dropped[NOT_A_NAME] == 1 and curated.dropped[BORROWED] == 1
    assert curated.dropped[IMMIGRANT] == 1
    assert [r.label for r in curated.rows if r.name in ("Yılmaz", "Yilmaz")] == ["Other"]
    nowak = [r for r in curated.rows if r.name == "Nowak"]
    assert len(nowak) == 1 and nowak[0].locales == ("pl", "pl_PL") and nowak[0].sources == ("faker", "mimesis")
    scottish = {r.name for r in curated.rows if r.label == "Scottish"}
    assert scottish == {"MacDonald", "McGregor"} and curated.dropped[SCOTTISH] == 2


def test_a_name_two_lists_read_apart_is_still_on_one_side():
    """文 is Wen in a Chinese list and Bun in a Japanese one, and 田中 is Tanaka: a Classifier reads
    a Han name both ways, so each such group takes one part."""
    rows = curate([Entry("文", "Chinese", "family", "zh_CN", "faker"), Entry("文", "Japanese", "family", "ja", "mimesis"),
                   Entry("田中", "Japanese", "family", "ja_JP", "faker"),
                   Entry("Tanaka", "Japanese", "family", "ja_JP", "faker")]).rows
    parts = {(r.name, r.label): r.part for r in rows}
    assert parts[("文", "Chinese")] == parts[("文", "Japanese")]
    assert parts[("田中", "Japanese")] == parts[("Tanaka", "Japanese")]


def test_a_family_name_two_lists_hold_goes_to_the_tradition_it_reads_like(locale_entries):
    claimed = locale_entries + [Entry("Nowak", "German", "family", "de_AT", "faker"),
                                  Entry("Becker", "Polish", "family", "pl_PL", "faker")]
    labels = {(r.name, r.kind): r.label for r in curate(claimed).rows}
    assert labels[("Nowak", "family")] == "Polish" and labels[("Becker", "family")] == "German"


def test_the_table_reads_back_with_readings_and_made_up_full_names(locale_file):
    table = read_table(locale_file)
    i = table.written.index("田中")
    assert table.text[i] == "Tanaka" and table.labels[i] == "Japanese"
    assert {table.parts[j] for j in range(len(table))} == {"train", "val", "test"}
    for part in ("train", "val", "test"):  # no name on two sides, as written or as read
        for column in (table.text, table.written):
            others = {column[j].lower() for j in range(len(table)) if table.parts[j] != part}
            assert not others & {column[j].lower() for j in range(len(table)) if table.parts[j] == part}
    full, labels = table.full_names("train", np.random.default_rng(0), "pl_PL")
    assert full and all(len(n.split()) >= 2 and y == "Polish" for n, y in zip(full, labels))
    written, _ = table.full_names("train", np.random.default_rng(0), "ja_JP", written=True)
    assert all(not n.isascii() and n.split()[0] in table.written for n in written)  # family name first


def test_han_names_are_read_as_users_see_them_read_whatever_their_label(locale_file):
    """A Chinese name in Han characters is scored on its Japanese reading (`Classifier`), so the
    network must learn how Chinese names sound in it; full names keep one script, and Chinese
    ones are written without a space."""
    from nameorigin.text.readings import prepare

    table = read_table(locale_file)
    i = table.written.index("王")
    assert table.labels[i] == "Chinese" and table.text[i] == prepare("王").japanese == "O"
    for part in ("train", "val", "test"):
        written, labels = table.full_names(part, np.random.default_rng(0), "zh_CN", written=True)
        assert written and all(" " not in n and not n.isascii() and y == "Chinese" for n, y in zip(written, labels))
        read, _ = table.full_names(part, np.random.default_rng(0), "zh_CN")
        assert [" ".join(n.lower().split()) for n in read] == [prepare(n, "lower").japanese for n in written]


HEAD = "name\tlabel\tkind\tlocale\tsource\tpart\n"


@pytest.mark.parametrize("text, problem", [("name\tlabel\n", "header"), (HEAD + "A\tB\tC\tD\tE\tF\n", "not a row"),
                                           (HEAD + "Kowalski\tKlingon\tfamily\tpl\tfaker\ttrain\n", "not a row"),
                                           (HEAD + "123\tPolish\tfamily\tpl\tfaker\ttrain\n", "not a row"),
                                           (HEAD, "no names"),
                                           (HEAD + "x" * 200_000 + "\tPolish\tfamily\tpl\tfaker\ttrain\n", "not a table")])
def test_a_damaged_table_is_refused_in_one_line(tmp_path, text, problem):
    path = tmp_path / "locales.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=problem):
        read_table(path)
    with pytest.raises(DataError, match="build-locales"):
        read_table(tmp_path / "missing.tsv")


def test_the_teacher_relabels_diaspora_names_but_never_out_of_other(locale_file, monkeypatch):
    from nameorigin.data import relabel as module

    table = read_table(locale_file)
    monkeypatch.setattr(module, "MIN_KNOWN", 5)
    teacher = module.fit_teacher(table.text, table.labels)
    names = ["Lewandowski", "Yilmaz", "Muller", "MacGregor", "Kowalski"]
    label_names = ["English", "German", "Other", "Polish", "Scottish"]
    labels = np.asarray([1, 1, 1, 0, 2])  # German, German, German, English, Other
    result = module.relabel(names, names, labels, label_names, teacher, 0.3, 1.0)
    assert [label_names[y] for y in result.labels] == ["Polish", "Other", "German", "Scottish", "Other"]
    assert result.changed[("German", "Polish")] == 1 and result.changed[("English", "Scottish")] == 1


def test_a_family_first_tradition_is_never_relabelled(locale_file, monkeypatch):
    """Wikipedia writes East Asian people in either order, so their "family name" may be a given
    name the teacher misreads (Toru, Hiroshi): such people keep their label."""
    from nameorigin.data import relabel as module

    table = read_table(locale_file)
    monkeypatch.setattr(module, "MIN_KNOWN", 5)
    teacher = module.fit_teacher(table.text, table.labels)
    label_names = ["German", "Japanese", "Polish"]
    result = module.relabel(["Kowalski", "Kowalski"], ["Jan Kowalski", "Kowalski Jan"], np.asarray([0, 1]),
                            label_names, teacher, 0.3, 1.0)
    assert [label_names[y] for y in result.labels] == ["Polish", "Japanese"]


def test_the_table_is_built_from_the_installed_packages(locales_table):
    """`locales_table` runs ``nameorigin data build-locales``, as the docs do."""
    table = read_table(locales_table)
    labels = Counter(table.labels)
    assert labels["Polish"] > 1000 and labels["Other"] > 5000 and labels["Scottish"] >= 10
    assert {loc for locs in table.locales for loc in locs} <= set(LOCALES)
    assert "Kowalski" in table.written and "Yılmaz" in table.written
