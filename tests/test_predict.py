"""The Python API and the result contract: probabilities, abstentions with reasons, revision."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nameorigin import load_model
from nameorigin.text.readings import prepare


@pytest.fixture(scope="module")
def clf(tiny_model):
    return load_model(tiny_model)


def test_predict_proba_rows_sum_to_one_and_match_predict(clf):
    names = ["Qin", "Ivanov", "Nakamura", "Papadopoulos"]
    proba = clf.predict_proba(names)
    assert proba.shape == (4, len(clf.labels))
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)
    for row, result in zip(proba, clf.predict(names, top_k=2)):
        assert result.label == clf.labels[row.argmax()]
        assert result.probability == pytest.approx(row.max())
        assert len(result.predictions) == 2


def test_repeated_and_odd_entries_keep_their_rows(clf):
    names = ["Qin", None, "Ivanov", "Qin", "", 3.5, "Ivanov", "qin"]
    proba = clf.predict_proba(names)
    single = {n: clf.predict_proba([n])[0] for n in ("Qin", "Ivanov", "qin")}
    for row, name in zip(proba, names):
        if name in single:
            np.testing.assert_allclose(row, single[name], atol=1e-6)
        else:
            assert np.isnan(row).all()
    results = clf.predict(names)
    assert [r.name for r in results] == [str(n) for n in names]
    assert [r.reason for r in results] == [None, "not a string", None, None, "empty name", "not a string", None, None]


def test_results_carry_the_model_revision(clf, tiny_model):
    from nameorigin.checkpoint import revision

    assert clf.predict(["Qin"])[0].model_revision == revision(tiny_model) == clf.revision


@pytest.mark.parametrize("name, reason", [
    ("", "empty name"), ("   ", "empty name"), ("12345", "no Latin letters"), ("🙂🙂", "no Latin letters"),
    ("--", "no Latin letters"), ("Ab" * 501, "longer than 1000 characters"),
    ("Ab" * 100_000 + "🙂", "longer than 1000 characters"),
])
def test_unreadable_names_are_abstained_on_with_a_reason(clf, name, reason):
    result = clf.predict([name])[0]
    assert result.abstained and result.label is None and reason in result.reason
    assert np.isnan(clf.predict_proba([name])).all()


def test_any_iterable_is_read_by_position(clf):
    pd = pytest.importorskip("pandas")
    series = pd.Series(["Qin", None, "Schmidt", "Ivanov"], index=[10, 1, 2, 0])
    kept = series[series != "Schmidt"]  # index 10, 1, 0: names[1] is the missing value, not "Qin"
    results = clf.predict(kept)
    assert [r.abstained for r in results] == [False, True, False] and results[1].reason == "not a string"
    expected = clf.predict_proba(["Qin", None, "Ivanov"])
    np.testing.assert_array_equal(clf.predict_proba(kept), expected)
    np.testing.assert_array_equal(clf.predict_proba(n for n in ["Qin", None, "Ivanov"]), expected)
    np.testing.assert_array_equal(clf.predict_proba(np.array(["Qin", "Ivanov"])), expected[[0, 2]])


@pytest.mark.parametrize("options, message", [
    ({"top_k": 0}, "top_k must be an integer of at least 1"), ({"top_k": -5}, "top_k"), ({"top_k": 2.5}, "top_k"),
    ({"min_confidence": float("nan")}, "min_confidence must be from 0 to 1"), ({"min_confidence": 2}, "min_confidence"),
])
def test_bad_options_are_refused(clf, options, message):
    with pytest.raises(ValueError, match=message):
        clf.predict(["Qin"], **options)


def test_the_longest_name_allowed_is_scored(clf):
    result = clf.predict(["Ab" * 500])[0]
    assert not result.abstained and len(result.normalized) == 1000


def test_non_latin_scripts_are_transliterated_and_scored(clf):
    for name, normalized in [("Иванов", "Ivanov"), ("Παπαδόπουλος", "Papadopoulos"), ("Zoë", "Zoe")]:
        result = clf.predict([name])[0]
        assert result.normalized == normalized and not result.abstained


def test_min_confidence_abstains_but_keeps_the_probabilities(clf):
    result = clf.predict(["Qin"], min_confidence=0.9999)[0]
    assert result.abstained and result.label is None and "below the minimum confidence" in result.reason
    assert result.predictions and result.probability < 0.9999


def test_predict_is_thread_safe(clf):
    names = ["Qin", "Ivanov", "Nakamura", "Papadopoulos"] * 50
    expected = clf.predict_proba(names)
    results = [None] * 8

    def work(i):
        results[i] = clf.predict_proba(names)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got in results:
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_a_single_string_is_refused_not_split_into_letters(clf):
    with pytest.raises(TypeError):
        clf.predict("Qin")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=60))
def test_any_unicode_string_gets_a_prediction_or_an_abstention(clf, name):
    result = clf.predict([name])[0]
    assert result.abstained == (result.label is None)
    if result.abstained:
        assert result.reason
    else:
        assert result.label in clf.labels and 0 <= result.probability <= 1
        read = prepare(name, clf.case)  # a Han name answered Japanese is shown in its Japanese reading
        assert result.normalized == (read.japanese if result.label == "Japanese" and read.japanese else read.text)


def test_batches_respect_the_padding_budget_and_keep_every_row():
    from nameorigin.runtime.batches import length_sorted_batches

    lengths = np.array([3, 200, 5, 5, 4, 9, 3] * 100)
    batches = length_sorted_batches(lengths, budget=64)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
    for rows in batches:
        assert len(rows) == 1 or len(rows) * lengths[rows].max() <= 64


def test_one_long_name_does_not_change_the_others(clf):
    names = ["Qin", "Ivanov", "Nakamura"]
    alone = clf.predict_proba(names)
    mixed = clf.predict_proba(names + ["Abcdefghij" * 30])[:3]
    np.testing.assert_allclose(alone, mixed, atol=1e-6)


def test_predict_frame_adds_columns_and_keeps_the_rest(clf):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"id": [1, 2, 3], "name": ["Qin", "", "Ivanov"]})
    out = clf.predict_frame(frame, column="name")
    assert list(out["id"]) == [1, 2, 3] and list(frame.columns) == ["id", "name"]
    assert out.loc[1, "abstained"] and pd.isna(out.loc[1, "predicted_label"])
    assert out.loc[0, "predicted_label"] in clf.labels
    with pytest.raises(KeyError, match="no column 'surname'"):
        clf.predict_frame(frame, column="surname")


def test_predict_frame_never_overwrites_the_callers_columns(clf):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"name": ["Qin", "Ivanov"], "probability": [0.1, 0.2], "reason": ["mine", "mine"]})
    out = clf.predict_frame(frame)
    assert list(out["probability"]) == [0.1, 0.2] and list(out["reason"]) == ["mine", "mine"]
    assert list(out.columns) == ["name", "probability", "reason", "predicted_label", "predicted_probability",
                                 "predicted_abstained", "predicted_reason", "predicted_normalized"]
    assert out.loc[0, "predicted_label"] in clf.labels
    with pytest.raises(ValueError, match="'predicted_reason' is also a result column"):
        clf.predict_frame(frame.assign(predicted_reason=1))


FORKED_WORKERS = """
import multiprocessing, torch
from nameorigin import load_model

torch.set_num_threads(2)  # the parent's OpenMP pool is what a forked child inherits broken
clf = load_model()
names = ["Qin", "Tanaka", "Schmidt"] * 3000
expected = clf.predict_proba(names)
def work(chunk):
    return clf.predict_proba(chunk)
with multiprocessing.get_context("fork").Pool(2) as pool:
    got = pool.map(work, [names[:4500], names[4500:]])
import numpy as np
assert np.allclose(np.concatenate(got), expected, atol=1e-6)
print("ok")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() on this platform")
def test_forked_workers_predict_after_the_parent_has(tmp_path):
    """multiprocessing's default on Linux: children of a process that has predicted must not hang."""
    import signal

    proc = subprocess.Popen([sys.executable, "-c", FORKED_WORKERS], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the hung workers too
        proc.communicate()
        pytest.fail("the forked workers hung")
    assert proc.returncode == 0 and out.strip() == "ok", err
