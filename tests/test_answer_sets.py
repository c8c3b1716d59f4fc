"""Answers that know how sure they are: coarse groups, prediction sets, population priors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from nameorigin import checkpoint
from nameorigin.cli import main
from nameorigin.conformal import Conformal, Scores, name_uniforms, prediction_sets
from nameorigin.errors import CheckpointError, NameOriginError
from nameorigin.inference import priors
from nameorigin.inference.classifier import load_model
from nameorigin.inference.groups import Grouping

NAMES = ["Qin", "Nakamura", "Papadopoulos", "Ivanov", "Tanaka", "Wang", "Petrov", "Georgiou"]


def _synthetic(rng: np.random.Generator, n: int, mix: np.ndarray, n_labels: int = 6):
    """Calibrated probabilities for a population with label mix `mix`: each label's feature is a
    Gaussian around its own mean, and the posteriors are computed under a uniform training mix."""
    labels = rng.choice(n_labels, size=n, p=mix)
    features = rng.normal(size=(n, n_labels)) + 1.4 * np.eye(n_labels)[labels]
    logits = 1.4 * features
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    return proba / proba.sum(axis=1, keepdims=True), labels


def _covered(sets: list[list[int]], labels: np.ndarray) -> float:
    return float(np.mean([y in s for s, y in zip(sets, labels)]))


# --- groups ------------------------------------------------------------------------------------


def test_groups_sum_the_probabilities_of_their_labels(tiny_model):
    clf = load_model(tiny_model)
    proba = clf.predict_proba(NAMES)
    grouped = clf.predict_proba(NAMES, level="group")
    assert clf.labels_at("group") == ["East Slavic", "Greek", "East Asian"]
    col = {g: i for i, g in enumerate(clf.labels_at("group"))}
    index = {label: i for i, label in enumerate(clf.labels)}
    east_asian = proba[:, index["Chinese"]] + proba[:, index["Japanese"]]
    np.testing.assert_allclose(grouped[:, col["East Asian"]], east_asian, rtol=1e-5)
    np.testing.assert_allclose(grouped.sum(axis=1), 1, rtol=1e-5)
    top = clf.predict(["Nakamura"], level="group", top_k=3)[0]
    assert top.label in clf.labels_at("group") and len(top.predictions) == 3


def test_every_label_has_a_group_and_unknown_labels_are_their_own():
    grouping = Grouping.of(["English", "Irish", "Scottish", "Spanish", "Portuguese", "Swahili"])
    assert grouping.names == ("British Isles", "Iberian", "Swahili")
    assert grouping.ids(np.array([0, 1, 2, 3, 4, 5])).tolist() == [0, 0, 0, 1, 1, 2]


# --- prediction sets ---------------------------------------------------------------------------


@pytest.mark.parametrize("coverage", [0.8, 0.9, 0.95])
def test_sets_cover_held_out_names_at_the_promised_rate(coverage):
    rng = np.random.default_rng(0)
    proba, labels = _synthetic(rng, 8000, np.full(6, 1 / 6))
    scores = Scores.fit(proba[:4000], labels[:4000])
    sets = prediction_sets(proba[4000:], scores.threshold(coverage))
    assert _covered(sets, labels[4000:]) == pytest.approx(coverage, abs=0.02)


def test_sets_are_nested_as_coverage_rises_and_start_with_the_top_label():
    rng = np.random.default_rng(1)
    proba, labels = _synthetic(rng, 3000, np.full(6, 1 / 6))
    scores = Scores.fit(proba[:1500], labels[:1500])
    previous = None
    for coverage in (0.5, 0.8, 0.9, 0.95, 0.99):
        sets = prediction_sets(proba[1500:], scores.threshold(coverage))
        assert all(s[0] == int(np.argmax(p)) for s, p in zip(sets, proba[1500:]))
        if previous is not None:
            assert all(set(a) <= set(b) for a, b in zip(previous, sets))
        previous = sets


def test_names_of_one_word_get_their_own_guarantee():
    """Family names alone are harder than full names: one threshold for both would over-cover
    the one and under-cover the other; each kind has its own."""
    rng = np.random.default_rng(3)
    easy, easy_y = _synthetic(rng, 6000, np.full(6, 1 / 6))
    hard, hard_y = _synthetic(rng, 6000, np.full(6, 1 / 6))
    hard = 0.4 * hard + 0.6 / 6  # flatter: a weaker reading of the same names
    hard_y = np.array([rng.choice(6, p=p) for p in hard])
    half = slice(0, 3000), slice(3000, None)
    conformal = Conformal(Scores.fit(easy[half[0]], easy_y[half[0]]), Scores.fit(easy[half[0]], easy_y[half[0]]),
                          one_word=(Scores.fit(hard[half[0]], hard_y[half[0]]),) * 2)
    proba = np.concatenate([easy[half[1]], hard[half[1]]])
    truth = np.concatenate([easy_y[half[1]], hard_y[half[1]]])
    one_word = np.repeat([False, True], 3000)
    sets = prediction_sets(proba, conformal.thresholds(0.9, "label", one_word))
    for kind in (~one_word, one_word):
        assert _covered([s for s, k in zip(sets, kind) if k], truth[kind]) == pytest.approx(0.9, abs=0.02)


@pytest.mark.parametrize("coverage", [0.8, 0.9])
def test_randomized_sets_cover_at_the_level_where_deterministic_ones_cannot(coverage):
    """A model right 93 % of the time: a deterministic set (never fewer than one label) covers
    at least that; a randomized one covers the level asked for, with some sets empty."""
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(8000, 6)) * 15.0
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(6, p=p) for p in proba])  # calibrated by construction
    u = name_uniforms([f"name {i}" for i in range(8000)])
    fixed, randomized = Scores.fit(proba[:4000], labels[:4000]), Scores.fit(proba[:4000], labels[:4000], u[:4000])
    assert np.mean(proba[4000:].argmax(axis=1) == labels[4000:]) > coverage + 0.03
    plain = prediction_sets(proba[4000:], fixed.threshold(coverage))
    exact = prediction_sets(proba[4000:], randomized.threshold(coverage), u[4000:])
    assert _covered(plain, labels[4000:]) > coverage + 0.03
    assert _covered(exact, labels[4000:]) == pytest.approx(coverage, abs=0.02)
    assert any(not s for s in exact) and all(plain)


def test_a_names_draw_is_fixed_by_the_name_and_uniform():
    draws = name_uniforms([f"Name{i}" for i in range(20000)])
    assert ((draws >= 0) & (draws < 1)).all()
    assert np.histogram(draws, bins=10, range=(0, 1))[0].min() > 1800
    assert name_uniforms(["Nowak", "Kowalski"]).tolist() == name_uniforms(["Nowak", "Kowalski"]).tolist()
    assert name_uniforms(["Nowak"])[0] != name_uniforms(["Nowaк"])[0]


def test_few_calibration_names_give_every_label_at_high_coverage():
    proba = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1]])
    scores = Scores.fit(proba, np.array([0, 1]))
    assert scores.threshold(0.99) == np.inf
    assert prediction_sets(proba, scores.threshold(0.99)) == [[0, 1, 2], [0, 1, 2]]


def test_a_trained_model_gives_nested_sets_that_cover_its_test_names(tiny_model, small_corpus):
    from nameorigin.data.corpus import load_corpus, split_corpus

    clf = load_model(tiny_model)
    assert clf.metadata.conformal is not None and clf.metadata.label_prior is not None
    corpus = load_corpus(str(small_corpus))
    s = clf.metadata.split
    split = split_corpus(corpus, s["kind"], s["seed"], s["test_size"], s["val_size"])
    names, labels = corpus.subset(np.concatenate([split.test, split.train]))
    small, large = (clf.predict(names, coverage=c) for c in (0.8, 0.95))
    assert all(set(a.prediction_set) <= set(b.prediction_set) for a, b in zip(small, large))
    assert all(p.prediction_set[0] == p.label for p in small)
    truth = [corpus.label_names[y] for y in labels]
    assert np.mean([t in p.prediction_set for t, p in zip(truth, large)]) >= 0.9
    grouped = clf.predict(names[:5], level="group", coverage=0.9)
    assert all(set(p.prediction_set) <= set(clf.labels_at("group")) for p in grouped)


def test_randomized_sets_are_the_same_for_a_name_in_any_batch(tiny_model):
    clf = load_model(tiny_model)
    assert clf.metadata.conformal.exact is not None and clf.metadata.conformal.exact.randomized
    alone = [clf.predict([n], coverage=0.8, randomized=True)[0].prediction_set for n in NAMES]
    together = [p.prediction_set for p in clf.predict(NAMES[::-1] * 2, coverage=0.8, randomized=True)][:len(NAMES)]
    assert together[::-1] == alone
    with pytest.raises(ValueError, match="randomized sets need a coverage"):
        clf.predict(["Qin"], randomized=True)


def test_a_model_calibrated_before_randomized_sets_says_how_to_add_them(tiny_model, tmp_path):
    out = tmp_path / "older"
    shutil.copytree(tiny_model, out)
    meta = json.loads((out / "model.json").read_text())
    del meta["conformal"]["randomized_sets"]
    (out / "model.json").write_text(json.dumps(meta))
    clf = load_model(out)
    assert clf.predict(["Qin"], coverage=0.9)[0].prediction_set
    with pytest.raises(NameOriginError, match="no calibration for randomized sets.*calibrate-sets"):
        clf.predict(["Qin"], coverage=0.9, randomized=True)


# --- priors ------------------------------------------------------------------------------------


def test_a_prior_moves_answers_toward_its_labels(tiny_model):
    clf = load_model(tiny_model)
    greek = clf.labels.index("Greek")
    before = clf.predict_proba(NAMES)
    after = clf.predict_proba(NAMES, prior={"Greek": 0.97})
    assert (after[:, greek] >= before[:, greek] - 1e-6).all()
    assert sum(p.label == "Greek" for p in clf.predict(NAMES, prior={"Greek": 0.97})) > \
        sum(p.label == "Greek" for p in clf.predict(NAMES))
    np.testing.assert_allclose(after.sum(axis=1), 1, rtol=1e-5)


def test_a_prior_naming_some_labels_shares_the_rest_in_training_proportions():
    mix = priors.resolve({"b": 0.5}, ["a", "b", "c"], np.array([0.2, 0.2, 0.6]))
    np.testing.assert_allclose(mix, [0.125, 0.5, 0.375])
    np.testing.assert_allclose(priors.resolve({"a": 2, "b": 1, "c": 1}, ["a", "b", "c"], np.ones(3) / 3),
                               [0.5, 0.25, 0.25])


def test_em_recovers_a_known_mix_better_than_counting_answers():
    rng = np.random.default_rng(2)
    true = np.array([0.5, 0.2, 0.1, 0.1, 0.05, 0.05])
    proba, _ = _synthetic(rng, 10000, true)
    estimate = priors.estimate(proba, np.full(6, 1 / 6))
    counted = np.bincount(proba.argmax(axis=1), minlength=6) / len(proba)
    assert np.abs(estimate - true).sum() < 0.05
    assert np.abs(estimate - true).sum() < np.abs(counted - true).sum()


# --- errors ------------------------------------------------------------------------------------


@pytest.fixture
def bare_model(tiny_model, tmp_path):
    """The tiny model without prediction-set scores or a training mix, as older checkpoints are."""
    out = tmp_path / "bare"
    shutil.copytree(tiny_model, out)
    meta = json.loads((out / "model.json").read_text())
    del meta["conformal"], meta["label_prior"]
    (out / "model.json").write_text(json.dumps(meta))
    return out


@pytest.mark.parametrize("args, message", [
    (["--coverage", "1.5"], "--coverage: must be a number between 0 and 1"),
    (["--prior", '{"Klingon": 0.5}'], "not a label of this model"),
    (["--prior", '{"Greek": -1}'], "must be a number of at least 0"),
    (["--prior", '{"Greek": '], "the prior is not valid JSON"),
    (["--level", "country"], "invalid choice"),
    (["--randomized-sets"], "--randomized-sets needs --coverage"),
])
def test_bad_answer_options_are_one_line_and_status_2(tiny_model, args, message):
    proc = subprocess.run([sys.executable, "-m", "nameorigin.cli", "predict", "--model", str(tiny_model), *args,
                           "Qin"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr, proc.stderr


def test_a_model_without_scores_says_how_to_add_them(bare_model, small_corpus, capsys):
    clf = load_model(bare_model)
    with pytest.raises(NameOriginError, match="nameorigin calibrate-sets"):
        clf.predict(["Qin"], coverage=0.9)
    with pytest.raises(NameOriginError, match="nameorigin calibrate-sets"):
        clf.predict(["Qin"], prior={"Greek": 0.5})
    assert main(["predict", "--model", str(bare_model), "--coverage", "0.9", "Qin"]) == 2
    assert "calibrate-sets" in capsys.readouterr().err


def test_calibrate_sets_adds_what_training_would_have(bare_model, tiny_model, small_corpus, capsys):
    assert main(["calibrate-sets", "--model", str(bare_model), "--data", str(small_corpus)]) == 0
    added, trained = checkpoint.load(bare_model)[1], checkpoint.load(tiny_model)[1]
    assert added.conformal == trained.conformal and added.label_prior == pytest.approx(trained.label_prior)
    assert load_model(bare_model).predict(["Qin"], coverage=0.9)[0].prediction_set


def test_damaged_scores_are_refused_at_load(tiny_model, tmp_path):
    out = tmp_path / "damaged"
    shutil.copytree(tiny_model, out)
    meta = json.loads((out / "model.json").read_text())
    meta["conformal"]["label"]["values"] = [2.0]
    (out / "model.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="'conformal'"):
        checkpoint.load(out)
    meta = json.loads((tiny_model / "model.json").read_text())
    meta["conformal"]["randomized_sets"]["randomized"] = False  # deterministic scores posing as randomized
    (out / "model.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="randomized true"):
        checkpoint.load(out)


# --- files -------------------------------------------------------------------------------------


def test_a_file_gets_its_own_mix_estimated_and_a_set_column(tiny_model, tmp_path, capsys):
    source = tmp_path / "names.txt"
    source.write_text("\n".join(NAMES * 5) + "\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert main(["predict", "--model", str(tiny_model), "--input", str(source), "--output", str(out),
                 "--prior", "auto", "--coverage", "0.9", "--quiet"]) == 0
    estimated = json.loads(capsys.readouterr().err.strip().splitlines()[-1])["estimated_prior"]
    assert sum(estimated.values()) == pytest.approx(1, abs=1e-4)
    header, *rows = out.read_text().splitlines()
    assert header.endswith(",prediction_set") and len(rows) == len(NAMES) * 5
    assert main(["predict", "--model", str(tiny_model), "--input", "-", "--prior", "auto"]) == 2
    assert "not stdin" in capsys.readouterr().err


def test_an_onnx_export_keeps_the_sets_and_the_mix(tiny_model):
    pytest.importorskip("onnxruntime")
    onnx, torch_model = load_model(tiny_model, backend="onnx"), load_model(tiny_model)
    for clf in (onnx, torch_model):
        assert clf.check_answers("group", 0.9, {"Greek": 0.5}) == ["East Slavic", "Greek", "East Asian"]
    assert [p.prediction_set for p in onnx.predict(NAMES, coverage=0.9)] == \
        [p.prediction_set for p in torch_model.predict(NAMES, coverage=0.9)]
