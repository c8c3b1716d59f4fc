"""ModelMeta: one checked, typed view of a model's metadata that writes back the JSON it came from."""

from __future__ import annotations

import dataclasses
import json

import pytest

from nameorigin.checkpoint import METADATA, _json_bytes
from nameorigin.config import Config
from nameorigin.errors import CheckpointError
from nameorigin.checkpoint.metadata import ModelMeta
from nameorigin.jsontext import JSONError, parse_json
from nameorigin.checkpoint.bundled import bundled_path

MINIMAL = {"config": {"arch": "gru", "hidden_size": 16}, "labels": ["A", "B", "C"]}


@pytest.mark.parametrize("name", ["tutorial", "world"])
def test_bundled_metadata_round_trips_byte_for_byte(name):
    path = bundled_path(name) / METADATA
    raw = path.read_bytes()
    meta = ModelMeta.from_dict(json.loads(raw), path)
    assert _json_bytes(meta.to_dict()) == raw
    assert _json_bytes(ModelMeta.from_dict(meta.to_dict(), path).to_dict()) == raw  # built again from itself


def test_fields_are_typed_and_unmodelled_keys_kept():
    meta = ModelMeta.from_dict(json.loads((bundled_path("world") / METADATA).read_bytes()), "world")
    assert isinstance(meta.config, Config) and meta.config.case == "lower" and meta.config.corpus == "world"
    assert isinstance(meta.labels, tuple) and len(meta.labels) == 19 and meta.logit_bias is None
    assert 0.5 < meta.temperature < 1 and len(meta.weights_sha256) == 64 and meta.revision is None
    assert set(meta.extra) == {"alphabet", "format", "format_version", "package_version", "test_sets", "world"}
    assert meta.metrics["n_test"] > 0 and meta.split["kind"] and meta.corpus["fingerprint"] and meta.history
    with pytest.raises(dataclasses.FrozenInstanceError):
        meta.temperature = 2.0


def test_its_fields_are_typed_and_defaults_are_not_written_back():
    meta = ModelMeta.from_dict(MINIMAL, "m")
    assert meta.labels == ("A", "B", "C") and meta.temperature == 1.0 and meta.logit_bias is None
    assert meta.config.case == "words" and "case" not in meta.to_dict()["config"]  # absent in the file: not invented
    assert meta == ModelMeta.from_dict(MINIMAL, "m")


def test_only_the_keys_given_or_changed_are_written():
    meta = ModelMeta.from_dict(MINIMAL, "m")
    assert meta.to_dict() == MINIMAL
    explicit = ModelMeta.from_dict({**MINIMAL, "logit_bias": None, "temperature": 1}, "m").to_dict()
    assert explicit["logit_bias"] is None and explicit["temperature"] == 1 and type(explicit["temperature"]) is int
    changed = dataclasses.replace(meta, temperature=0.5, config=dataclasses.replace(meta.config, case="lower"))
    assert changed.to_dict() == {"config": {**MINIMAL["config"], "case": "lower"}, "labels": ["A", "B", "C"],
                                 "temperature": 0.5}


@pytest.mark.parametrize("data, message", [
    ([1, 2], "the metadata must be a JSON object"),
    ({"labels": ["A", "B"]}, "'config' must be a JSON object"),
    ({**MINIMAL, "labels": ["A"]}, "'labels' must be a list of at least two names"),
    ({**MINIMAL, "temperature": 1e-308}, "'temperature' must be a positive number from 0.001 to 1000, not 1e-308"),
    ({**MINIMAL, "one_word_temperature": 0}, "'one_word_temperature' must be a positive number from 0.001 to 1000"),
    ({**MINIMAL, "logit_bias": [0, 0, 1e300]}, "'logit_bias' must be null or 3 numbers from -1000 to 1000"),
    ({**MINIMAL, "config": {"num_layers": 10**6}}, "'config.num_layers' must be a whole number from 1 to 8"),
    ({**MINIMAL, "config": {"bidirectional": "yes"}}, "'config.bidirectional' must be true or false"),
    ({**MINIMAL, "config": {"dropout": 2}}, "'config.dropout' must be a number from 0 to 1"),
    ({**MINIMAL, "config": {"ngram_max": 9}}, "'config.ngram_max' must be a whole number from 2 to 8"),
    ({**MINIMAL, "config": {"ngram_words": 1}}, "'config.ngram_words' must be true or false"),
    ({**MINIMAL, "config": {"surname_share": 1.5}}, "'config.surname_share' must be a number from 0 to 1"),
    ({**MINIMAL, "metrics": [1]}, "'metrics' must be a JSON object"),
    ({**MINIMAL, "weights_sha256": 5}, "'weights_sha256' must be a string"),
])
def test_bad_values_are_one_line_naming_the_file_and_key(data, message):
    with pytest.raises(CheckpointError, match=rf"^x/model.json: {message}.*; retrain or restore it$"):
        ModelMeta.from_dict(data, "x/model.json")


@pytest.mark.parametrize("text, finite, message", [
    ("[" * 100000 + "]" * 100000, False, "nested more than 100 levels deep"),
    ("[" * 101 + "]" * 101, False, "nested more than 100 levels deep"),
    ("-" + "1" * 5000, False, "a number of 5000 digits, too long to read"),
    ('{"a": NaN}', True, "NaN is not a JSON value"),
    ("-Infinity", True, "-Infinity is not a JSON value"),
    ("[1e999]", True, "the number 1e999 is too large"),
    ('{"a":\n 1,}', False, r"not valid JSON \(Expecting property name enclosed in double quotes, line 2 column 4\)"),
])
def test_hostile_json_is_a_json_error(text, finite, message):
    with pytest.raises(JSONError, match=message):
        parse_json(text, finite=finite)


def test_ordinary_json_is_read_as_python_reads_it():
    text = json.dumps({"n": int("9" * 4000), "deep": json.loads("[" * 99 + "]" * 99), "x": [1.5, -0.0, "[{"]})
    assert parse_json(text, finite=True) == json.loads(text)
    assert parse_json("NaN") != parse_json("NaN")  # model.json may carry NaN in its history, as before
