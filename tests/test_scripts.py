"""A name's script is evidence: Hangul is Korean, kana Japanese, Han Chinese or Japanese, Arabic
script Arabic, other scripts outside the 18; Latin, Cyrillic and Greek limit nothing."""

from __future__ import annotations

import pytest

from nameorigin.text.scripts import allowed_labels, script_of


@pytest.mark.parametrize("name, script, allowed", [
    ("김민준", "HANGUL", ("Korean",)),
    ("たなか", "HIRAGANA", ("Japanese",)),
    ("田中さん", "HIRAGANA", ("Japanese",)),
    ("タナカ", "KATAKANA", ("Japanese",)),
    ("田中", "CJK", ("Chinese", "Japanese")),
    ("محمد", "ARABIC", ("Arabic",)),
    ("शर्मा", "DEVANAGARI", ("Other",)),
    ("สมชาย", "THAI", ("Other",)),
    ("አበበ", "ETHIOPIC", ("Other",)),
    ("Иванов", "CYRILLIC", None),
    ("Παπαδόπουλος", "GREEK", None),
    ("Ślusàrski", "LATIN", None),
    ("Smith", None, None),
])
def test_script_and_the_labels_it_allows(name, script, allowed):
    assert script_of(name) == script
    assert allowed_labels(script) == allowed


@pytest.fixture(scope="module")
def tutorial():
    from nameorigin import load_model

    return load_model("tutorial")


def test_tutorial_model_follows_the_script(tutorial):
    korean, arabic, han, kana, cyrillic = tutorial.predict(["김", "محمد", "田中", "たなか", "Иванов"], top_k=2)
    assert korean.label == "Korean" and arabic.label == "Arabic" and kana.label == "Japanese"
    assert {p.label for p in han.predictions} == {"Chinese", "Japanese"}
    assert cyrillic.label == "Russian" and cyrillic.normalized == "Ivanov"


def test_a_script_outside_the_labels_is_an_abstention_for_the_tutorial_model(tutorial):
    (hindi,) = tutorial.predict(["शर्मा"])
    assert hindi.abstained and hindi.label is None and "Devanagari" in hindi.reason


def test_case_does_not_change_the_tutorial_models_answer(tutorial):
    for name in ("SMITH", "IVANOV", "TANAKA"):
        upper, title, lower = tutorial.predict_proba([name, name.title(), name.lower()])
        assert (upper == title).all() and (lower == title).all()


@pytest.mark.parametrize("typed, plain", [
    ("ＳＭＩＴＨ", "SMITH"), ("ＭＥＲＫＥＬ Angela", "MERKEL Angela"), ("𝐌𝐞𝐫𝐤𝐞𝐥", "Merkel"),
    ("ｷﾑﾗ", "キムラ"), ("ﾔﾏﾀﾞ", "ヤマダ"), ("Smi\u200bth", "Smith"), ("Ko\u00adwal\u200dski", "Kowalski"),
])
def test_styled_letters_read_as_the_letters_they_look_like(tutorial, typed, plain):
    """Fullwidth, mathematical and halfwidth forms and invisible characters change nothing."""
    (styled, written) = tutorial.predict([typed, plain], top_k=3)
    assert styled.predictions == written.predictions and styled.normalized == written.normalized
    assert not styled.abstained


def test_a_closed_script_beside_latin_still_decides(tutorial):
    assert script_of("Kim 민준") == "HANGUL" and script_of("Ahmed محمد") == "ARABIC"
    (mixed,) = tutorial.predict(["Kim 민준"])
    assert mixed.label == "Korean"


@pytest.mark.parametrize("name, read", [("J.R.R. Tolkien", "J.R.R. Tolkien"), ("H.G. Wells", "H.G. Wells"),
                                        ("BB King", "Bb King"), ("MERKEL Angela", "Angela Merkel"),
                                        ("LI Wei", "Wei Li")])
def test_initials_are_not_a_family_name_in_capitals(tutorial, name, read):
    (answer,) = tutorial.predict([name])
    assert answer.normalized == read
