"""The world model's pieces: name forms, the family-name split, script evidence, case, and a
small world run end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nameorigin.text.names import fold_case, surname_index, uncomma
from nameorigin.data.wiki import people_from_rows, split_people


@pytest.fixture(scope="session")
def wiki_slice(wiki_file, tmp_path_factory) -> Path:
    """Every 150th person of the real wiki file (about 3,300), every label represented."""
    lines = wiki_file.read_text(encoding="utf-8").splitlines()
    out = tmp_path_factory.mktemp("wiki") / "names.tsv"
    out.write_text("\n".join([lines[0]] + lines[1::150]) + "\n", encoding="utf-8")
    return out


def test_case_folding_reads_typed_names_as_the_corpus_writes_them():
    assert fold_case("SMITH", "words") == fold_case("smith", "words") == "Smith"
    assert fold_case("McDonald", "words") == "McDonald"
    assert fold_case("O'BRIEN-JONES", "words") == "O'Brien-Jones"
    assert fold_case("Angela MERKEL", "lower") == "angela merkel"


def test_comma_form_is_read_in_reading_order():
    assert uncomma("Merkel, Angela") == "Angela Merkel"
    assert uncomma("Merkel") == "Merkel"
    assert uncomma("a, b, c") == "a, b, c"
    assert uncomma(", Angela") == ", Angela"


def test_a_family_name_written_first_in_capitals_is_read_last():
    from nameorigin.text.names import family_last

    assert family_last("MERKEL Angela") == "Angela MERKEL"
    assert family_last("DE GAULLE Charles") == "Charles DE GAULLE"
    assert family_last("SMITH J.") == "J. SMITH"  # an initial is not a name in capitals
    for as_written in ("ANGELA MERKEL", "Angela MERKEL", "Louis XIV", "McDONALD Ronald", "MERKEL", "MERKEL Angela DE"):
        assert family_last(as_written) == as_written


def test_family_name_is_the_last_word_but_suffixes():
    assert surname_index(["Martin", "Luther", "King", "Jr."], family_first=False) == 2
    assert surname_index(["Wang", "Wei"], family_first=True) == 0


def test_family_first_names_are_told_apart_by_the_data():
    rows = [("Nguyen Van An", "Vietnamese"), ("Nguyen Thi Lan", "Vietnamese"), ("Andrea Nguyen", "Vietnamese"),
            ("Wang Wei", "Chinese"), ("Wang Fang", "Chinese"), ("Angela Merkel", "German"),
            ("Mike Tyson", "English")]
    people = people_from_rows(rows, "test")
    assert people.surname == ["Nguyen", "Nguyen", "Nguyen", "Wang", "Wang", "Merkel", "Tyson"]
    assert people.given[0] == "Van An" and people.swapped[0] == "Van An Nguyen"
    assert people.swapped[5] == "Merkel Angela"
    assert people.label_names == ["Chinese", "English", "German", "Vietnamese"]


def test_a_label_outside_ascii_is_fingerprinted_like_any_other():
    """A user's own names.tsv may label people `Burkinabé`: the run records the file's
    fingerprint after training, so a label it cannot hash would lose the whole run."""
    people = people_from_rows([("Thomas Sankara", "Burkinabé"), ("Angela Merkel", "German")], "test")
    assert people.label_names == ["Burkinabé", "German"]
    again = people_from_rows([("Angela Merkel", "German"), ("Thomas Sankara", "Burkinabé")], "test")
    assert len(people.fingerprint) == 64 and people.fingerprint == again.fingerprint


def test_split_keeps_every_family_on_one_side(wiki_slice):
    from nameorigin.data.wiki import load_people

    people = load_people(wiki_slice)
    split = split_people(people, seed=42, test_size=0.1, val_size=0.05)
    sides = [{people.surname[i].lower() for i in part} for part in (split.train, split.val, split.test)]
    assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
    assert sum(map(len, (split.train, split.val, split.test))) == len(people)
    again = split_people(people, seed=42, test_size=0.1, val_size=0.05)
    assert np.array_equal(split.test, again.test)
    assert 0.05 < len(split.test) / len(people) < 0.16


@pytest.fixture(scope="session")
def tiny_world(wiki_slice, small_corpus, locale_file, tmp_path_factory) -> Path:
    from nameorigin.config import PRESETS
    from nameorigin.training.pipeline import train_and_save

    out = tmp_path_factory.mktemp("world") / "model"
    config = PRESETS["world"][0].updated(hidden_size=16, embedding_dim=8, head_size=16, ngram_buckets=4096,
                                         epochs=2, batch_size=64)
    train_and_save(config, str(out), data=str(small_corpus), wiki=str(wiki_slice), locales=str(locale_file),
                   progress=False, log=lambda s: None)
    return out


def test_world_run_answers_other_and_scores_every_test_set(tiny_world, wiki_slice, small_corpus, locale_file):
    from nameorigin import load_model
    from nameorigin.evaluation.evaluate import evaluate_checkpoint

    clf = load_model(tiny_world)
    assert "Other" in clf.labels and "Russian" in clf.labels
    meta = clf.metadata.to_dict()
    assert set(meta["test_sets"]) == {"wiki_full", "wiki_surname", "tutorial", "locale_full", "locale_family"}
    assert set(meta["test_sets"]["wiki_full"]["other"]) == {"precision", "recall"}
    assert "locales" in meta["world"] and meta["world"]["relabelled"]["threshold"] in (0.6, 0.7, 0.8, 0.9, 0.95, 0.98)
    report = evaluate_checkpoint(str(tiny_world), str(small_corpus), str(wiki_slice), str(locale_file))
    for name, scores in report["test_sets"].items():
        assert scores["accuracy"] == pytest.approx(meta["test_sets"][name]["accuracy"], abs=1e-9), name
    assert report["accuracy"] == pytest.approx(meta["metrics"]["accuracy"], abs=1e-9)


def test_world_model_is_case_blind_and_reads_the_comma_form(tiny_world):
    from nameorigin import load_model

    clf = load_model(tiny_world)
    results = clf.predict(["SMITH", "Smith", "smith", "Merkel, Angela", "angela merkel", "MERKEL Angela"])
    assert len({r.label for r in results[:3]}) == 1
    assert results[0].probability == pytest.approx(results[2].probability)
    assert results[3].normalized == results[4].normalized == results[5].normalized == "angela merkel"
    assert results[5].probability == results[4].probability


def test_names_of_one_word_have_their_own_temperature(tiny_world):
    import torch

    from nameorigin import load_model

    clf = load_model(tiny_world)
    several, one = clf.calibration.temperature, clf.calibration.one_word_temperature
    assert one is not None and one != several
    logits = torch.from_numpy(clf.logits(["merkel", "angela merkel"]))
    expected = torch.softmax(logits / torch.tensor([[one], [several]]), dim=1).numpy()
    np.testing.assert_allclose(clf.predict_proba(["Merkel", "Angela Merkel"]), expected, rtol=0, atol=1e-6)


def test_evaluating_a_world_model_on_another_corpus_is_refused(tiny_world, names_dir, small_corpus, wiki_slice,
                                                              locale_file, tmp_path):
    from nameorigin.errors import DataError, NameOriginError
    from nameorigin.evaluation.evaluate import evaluate_checkpoint

    with pytest.raises(NameOriginError, match="not the one the model was trained on"):
        evaluate_checkpoint(str(tiny_world), str(names_dir), str(wiki_slice), str(locale_file))
    other = tmp_path / "locales.tsv"
    lines = locale_file.read_text(encoding="utf-8").splitlines()
    other.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    with pytest.raises(NameOriginError, match="locales corpus given is not the one"):
        evaluate_checkpoint(str(tiny_world), str(small_corpus), str(wiki_slice), str(other))
    with pytest.raises(DataError, match="--locales"):
        evaluate_checkpoint(str(tiny_world), str(small_corpus), str(wiki_slice))


def test_an_onnx_export_keeps_both_temperatures(tiny_world, tmp_path):
    pytest.importorskip("onnxruntime")
    from nameorigin import load_model
    from nameorigin.checkpoint.onnx import export_onnx
    from nameorigin.inference.onnx import load_onnx_classifier

    clf = load_model(tiny_world)
    exported = load_onnx_classifier(export_onnx(tiny_world, tmp_path / "world.onnx"))
    assert exported.calibration.one_word_temperature == clf.calibration.one_word_temperature
    names = ["Merkel", "Angela Merkel", "Nguyen Van An", "Sharma"]
    np.testing.assert_allclose(exported.predict_proba(names), clf.predict_proba(names), rtol=0, atol=1e-5)


def test_surname_share_is_the_share_of_people_read_by_family_name_alone(wiki_slice, small_corpus):
    from nameorigin.config import PRESETS
    from nameorigin.data.corpus import load_corpus
    from nameorigin.data.wiki import load_people
    from nameorigin.data.world import WorldData

    world = WorldData.build(PRESETS["world"][0], load_corpus(str(small_corpus), progress=False),
                            load_people(wiki_slice))
    surnames, _ = world.wiki("surname", world.wiki_split.train)
    full, _ = world.wiki("full", world.wiki_split.train)
    several = np.asarray([" " in n for n in full])  # people whose every other form differs from the family name
    shares = {}
    for share in (0.0, 0.5, 1.0):
        names, labels = world.sampler(2, share)(np.random.default_rng(0))
        assert len(names) == len(labels) == len(surnames) + 2 * len(world.tutorial_train()[0])
        alone = np.asarray([n == s for n, s in zip(names, surnames)])
        shares[share] = alone[several].mean()
    assert shares[1.0] == 1.0 and shares[0.0] < 0.02 and 0.45 < shares[0.5] < 0.55


def test_a_world_run_can_leave_its_test_parts_for_evaluate(wiki_slice, small_corpus, tmp_path):
    """Without the locale lists (--locale-repeat 0), as world v1 was trained."""
    from nameorigin.config import PRESETS
    from nameorigin.evaluation.evaluate import evaluate_checkpoint
    from nameorigin.training.pipeline import train_and_save

    config = PRESETS["world"][0].updated(hidden_size=8, embedding_dim=4, head_size=0, ngram_buckets=512,
                                         epochs=1, batch_size=64, locale_repeat=0, relabel=False)
    meta = train_and_save(config, str(tmp_path / "m"), data=str(small_corpus), wiki=str(wiki_slice),
                          progress=False, log=lambda s: None, score_test=False)
    assert "metrics" not in meta and "test_sets" not in meta and meta["one_word_temperature"] is not None
    report = evaluate_checkpoint(str(tmp_path / "m"), str(small_corpus), str(wiki_slice))
    assert set(report["test_sets"]) == {"wiki_full", "wiki_surname", "tutorial"}


def test_world_ensemble_members_are_trained_each_on_its_own(wiki_slice, small_corpus):
    """Member 0 of `--ensemble 2` is the very model a single run trains, and member 1 another:
    fitted through the vote together, each would have leant on the other instead."""
    from nameorigin.config import PRESETS
    from nameorigin.training.world import train_world

    config = PRESETS["world"][0].updated(hidden_size=8, embedding_dim=4, head_size=8, ngram_buckets=512,
                                         epochs=1, batch_size=256, calibrate=False, locale_repeat=0, relabel=False)
    quiet = {"progress": False, "log": lambda s: None}
    single, _, _ = train_world(config, str(small_corpus), str(wiki_slice), **quiet)
    pair, meta, _ = train_world(config.updated(ensemble=2), str(small_corpus), str(wiki_slice), **quiet)
    first, second = (m.state_dict() for m in pair.members)
    for key, value in single.state_dict().items():
        assert torch.equal(first[key], value), key
    assert not torch.equal(first["head.weight"], second["head.weight"])
    assert meta["config"]["ensemble"] == 2


def test_an_epoch_reads_the_locale_lists_and_the_relabelled_people(wiki_slice, small_corpus, locale_file):
    from nameorigin.config import PRESETS
    from nameorigin.data.world import load_world

    world = load_world(PRESETS["world"][0], str(small_corpus), str(wiki_slice), str(locale_file), progress=False)
    names, labels = world.sampler(1, 0.3, locale_repeat=2)(np.random.default_rng(0))
    plain, _ = world.sampler(1, 0.3)(np.random.default_rng(0))
    table = world.locales
    n_family, n_given = len(table.rows("train", "family")), len(table.rows("train", "given"))
    family = table.rows("train", "family", exclude=world.held_out)
    given = table.rows("train", "given", exclude=world.held_out)
    n_full = len(table.full_names("train", np.random.default_rng(1), exclude=world.held_out)[0])
    more = names[len(plain):]
    assert n_full > 0 and len(more) == 2 * len(family) + len(given) + 2 * n_full
    assert not set(more) & world.held_out  # no held-out Wikipedia family name is trained on
    val_names, _ = world.validation()
    assert len(val_names) > 2 * len(world.wiki_split.val)
    assert world.relabelling is not None and len(world.wiki_train_labels) == len(world.wiki_split.train)


def test_a_world_run_without_the_locale_table_says_how_to_build_it(wiki_slice, small_corpus, monkeypatch):
    from nameorigin.config import PRESETS
    from nameorigin.errors import DataError
    from nameorigin.data.world import load_world

    monkeypatch.delenv("NAMEORIGIN_LOCALES", raising=False)
    with pytest.raises(DataError, match="build-locales"):
        load_world(PRESETS["world"][0], str(small_corpus), str(wiki_slice), progress=False)


def test_a_name_in_han_characters_is_scored_on_its_japanese_reading(tiny_world):
    """田中 read in Mandarin is "Tian Zhong", which reads as Chinese whatever the name: the
    choice between Chinese and Japanese is made on the Japanese reading, Tanaka."""
    from nameorigin import load_model
    from nameorigin.text.readings import prepare
    from nameorigin.text.scripts import transliteration_trust

    clf = load_model(tiny_world)
    p = prepare("田中", clf.case)
    assert (p.text, p.japanese) == ("tian zhong", "tanaka")
    pair = [clf.labels.index("Chinese"), clf.labels.index("Japanese")]
    latin = clf.predict_proba(["Tanaka"])[0][pair]
    trust = transliteration_trust("CJK")
    expected = trust * latin / latin.sum() + (1 - trust) / 2
    han = clf.predict_proba(["田中"])[0]
    np.testing.assert_allclose(han[pair], expected, rtol=0, atol=1e-6)
    assert han.sum() == pytest.approx(1) and han[pair].sum() == pytest.approx(1)
    answer = clf.predict(["田中"])[0]
    assert answer.normalized == ("tanaka" if answer.label == "Japanese" else "tian zhong")
    assert clf.predict(["キムラ"])[0].normalized == "kimura"  # kana by its Japanese reading too


def test_calibrate_sets_gives_a_world_checkpoint_what_training_did(tiny_world, wiki_slice, small_corpus,
                                                                    locale_file, tmp_path):
    import json
    import shutil

    from nameorigin import checkpoint
    from nameorigin.cli import main

    out = tmp_path / "bare"
    shutil.copytree(tiny_world, out)
    meta = json.loads((out / "model.json").read_text())
    for key in ("conformal", "label_prior", "one_word_label_prior"):
        meta.pop(key, None)
    (out / "model.json").write_text(json.dumps(meta))
    assert main(["calibrate-sets", "--model", str(out), "--data", str(small_corpus), "--wiki", str(wiki_slice),
                 "--locales", str(locale_file)]) == 0
    added, trained = checkpoint.load(out)[1], checkpoint.load(tiny_world)[1]
    assert added.conformal == trained.conformal
    assert added.label_prior == pytest.approx(trained.label_prior, abs=1e-6)
    assert main(["calibrate-sets", "--model", str(out), "--data", str(small_corpus), "--wiki", str(wiki_slice)]) == 2
