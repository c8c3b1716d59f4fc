"""The HTTP service's JSON API: predictions over GET and POST, the model's metadata, the schema
(top_k, min_confidence, groups, prediction sets, priors), explanations, the health check and the
docs page, and a JSON 4xx for every bad request (422, 400, 404, 405).

The tests talk HTTP to a real uvicorn server in a subprocess on 127.0.0.1, serving the shared
`tiny_model`; a few run the app in-process. Bounded work is in test_serve_limits.py, connections,
start-up and shutdown in test_serve_connections.py.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import socket

import pytest

httpx = pytest.importorskip("httpx")

from serving import (LABELS, FakeClassifier, asgi_requests, assert_json_error,  # noqa: E402
                     check_prediction, running_server)
from serving import client, server  # noqa: E402, F401 (fixtures, used by name)

from nameorigin.serve import create_app  # noqa: E402


# --- predictions ------------------------------------------------------------------------------


def test_get_predicts_one_name(client):
    r = client.get("/v1/predict", params={"name": "Qin", "top_k": 3})
    assert r.status_code == 200
    p = r.json()
    check_prediction(p, "Qin", 3)
    assert p["model_revision"] == client.get("/v1/model").json()["revision"]


def test_get_defaults_to_top_3_and_all_labels_sum_to_one(client):
    assert len(client.get("/v1/predict", params={"name": "Ivanov"}).json()["predictions"]) == 3
    p = client.get("/v1/predict", params={"name": "Ivanov", "top_k": len(LABELS)}).json()
    check_prediction(p, "Ivanov", len(LABELS))
    assert math.isclose(sum(q["probability"] for q in p["predictions"]), 1.0, abs_tol=1e-5)


def test_post_predicts_many_names_in_order(client):
    names = ["Qin", "Nakamura", "Papadopoulos", "Ivanov", "🙂", "", "Zhang"]
    r = client.post("/v1/predict", json={"names": names, "top_k": 4})
    assert r.status_code == 200
    body = r.json()
    assert [p["name"] for p in body["predictions"]] == names
    for p in body["predictions"]:
        assert p["model_revision"] == body["model_revision"]
        if p["name"] in ("🙂", ""):
            assert p["abstained"] and p["label"] is None and p["predictions"] == [] and p["reason"]
        else:
            check_prediction(p, p["name"], 4)
            assert math.isclose(sum(q["probability"] for q in p["predictions"]), 1.0, abs_tol=1e-5)


def test_an_emoji_or_empty_name_is_an_abstention_not_an_error(client):
    for name in ("🙂", ""):
        r = client.get("/v1/predict", params={"name": name})
        assert r.status_code == 200
        assert r.json()["abstained"] is True and r.json()["reason"]


# --- metadata, the health check and the docs --------------------------------------------------


def test_model_info(client, tiny_model):
    info = client.get("/v1/model").json()
    meta = json.loads((tiny_model / "model.json").read_text())
    assert info["labels"] == LABELS
    assert len(info["revision"]) == 64
    assert info["metrics"] == meta["metrics"] and info["config"] == meta["config"]
    assert info["limits"] == {"max_names": 1000, "max_body_bytes": 65536, "max_name_chars": 100,
                              "max_request_chars": 20000}
    assert info["explain"] is True


def test_healthz_openapi_and_docs(client):
    assert client.get("/healthz").json()["status"] == "ok"
    schema = client.get("/openapi.json").json()
    assert {"get", "post"} <= set(schema["paths"]["/v1/predict"])
    assert {"/v1/model", "/healthz"} <= set(schema["paths"])
    docs = client.get("/docs")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]


def test_head_healthz_is_200_without_a_body(server):
    r = raw_request(server, b"HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = r.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and body == b""


def test_docs_load_nothing_from_elsewhere(client):
    page = client.get("/docs").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(a.startswith("/") for a in assets), assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


# --- the schema, over GET and POST alike ------------------------------------------------------


def test_top_k_is_a_whole_number_over_get_and_post(client):
    """JSON Schema's "integer" counts 6.0 as one: both forms are accepted, and mean the same."""
    schema = client.get("/openapi.json").json()
    assert schema["components"]["schemas"]["PredictRequest"]["properties"]["top_k"]["type"] == "integer"
    get = client.get("/v1/predict", params={"name": "Qin", "top_k": "2.0"})
    post = client.post("/v1/predict", json={"names": ["Qin"], "top_k": 2.0})
    assert get.status_code == post.status_code == 200, (get.text, post.text)
    assert len(get.json()["predictions"]) == len(post.json()["predictions"][0]["predictions"]) == 2
    assert_json_error(client.get("/v1/predict", params={"name": "Qin", "top_k": "2.5"}), 422)


def test_min_confidence_over_get_and_post(client):
    for r in (client.get("/v1/predict", params={"name": "Qin", "min_confidence": 1}),
              client.post("/v1/predict", json={"names": ["Qin"], "min_confidence": 1})):
        assert r.status_code == 200, r.text
        p = r.json() if "name" in r.json() else r.json()["predictions"][0]
        assert p["abstained"] and p["label"] is None and "confidence" in p["reason"] and p["predictions"]
    p = client.get("/v1/predict", params={"name": "Qin", "min_confidence": 0}).json()
    assert not p["abstained"] and p["label"]
    for bad in ("1.5", "-0.1", "nan", "high"):
        assert_json_error(client.get("/v1/predict", params={"name": "Qin", "min_confidence": bad}), 422)
    for bad in (1.5, "0.5", True, None):
        assert_json_error(client.post("/v1/predict", json={"names": ["Qin"], "min_confidence": bad}), 422)


def test_groups_sets_and_priors_over_get_and_post(tiny_model):
    from nameorigin.inference.classifier import load_model

    one, many, plain, greek = asgi_requests(
        create_app(load_model(tiny_model), batching=False),
        ("GET", "/v1/predict", {"params": {"name": "Qin", "level": "group", "coverage": 0.9}}),
        ("POST", "/v1/predict", {"json": {"names": ["Qin", "Ivanov"], "coverage": 0.95, "prior": "auto"}}),
        ("GET", "/v1/predict", {"params": {"name": "Qin", "top_k": 4}}),
        ("GET", "/v1/predict", {"params": {"name": "Qin", "top_k": 4, "prior": json.dumps({"Greek": 0.99})}}))
    p = one.json()
    assert p["label"] in {"East Asian", "Greek", "East Slavic"} and p["prediction_set"][0] == p["label"]
    assert many.status_code == 200, many.text
    assert all(set(p["prediction_set"]) <= set(LABELS) for p in many.json()["predictions"])
    assert "prediction_set" not in plain.json()
    share = {q["label"]: q["probability"] for q in greek.json()["predictions"]}
    assert share["Greek"] > {q["label"]: q["probability"] for q in plain.json()["predictions"]}["Greek"]


def test_randomized_sets_over_get_and_post_are_the_python_apis(tiny_model):
    from nameorigin.inference.classifier import load_model

    clf = load_model(tiny_model)
    names = ["Qin", "Ivanov", "Papadopoulos", "Nakamura"]
    one, many = asgi_requests(
        create_app(clf, batching=False),
        ("GET", "/v1/predict", {"params": {"name": "Qin", "coverage": 0.8, "randomized": "true"}}),
        ("POST", "/v1/predict", {"json": {"names": names, "coverage": 0.8, "randomized": True}}))
    expected = [p.prediction_set for p in clf.predict(names, coverage=0.8, randomized=True)]
    assert one.json()["prediction_set"] == expected[0]
    assert [p["prediction_set"] for p in many.json()["predictions"]] == expected


@pytest.fixture
def bare_client(tiny_model, tmp_path):
    """A client of a server on `tiny_model` without prediction-set scores, as a model trained
    without a validation part is (it keeps the training label mix)."""
    bare = tmp_path / "bare"
    shutil.copytree(tiny_model, bare)
    meta = json.loads((bare / "model.json").read_text())
    del meta["conformal"]
    (bare / "model.json").write_text(json.dumps(meta))
    with running_server(bare, tmp_path / "server.log") as (_, url), httpx.Client(base_url=url, timeout=10) as c:
        yield c


def test_coverage_from_a_model_without_a_validation_part_is_a_422_saying_why(bare_client):
    detail = assert_json_error(bare_client.get("/v1/predict", params={"name": "Qin", "coverage": 0.9}), 422)
    assert "calibrate-sets" in detail
    assert bare_client.get("/v1/predict", params={"name": "Qin", "level": "group"}).json()["label"]


def test_bad_answer_options_are_a_one_line_422(client):
    for params in ({"coverage": 1}, {"coverage": "x"}, {"randomized": "true"}, {"level": "country"}, {"prior": "/etc/passwd"},
                   {"prior": '{"Klingon": 1}'}, {"prior": '{"Greek": -1}'}, {"prior": "{"}):
        detail = assert_json_error(client.get("/v1/predict", params={"name": "Qin", **params}), 422)
        assert "\n" not in detail
    for body in ({"coverage": 0}, {"level": 1}, {"randomized": True}, {"coverage": 0.9, "randomized": "yes"}, {"prior": {"Greek": "0.5"}}, {"prior": {"Klingon": 1}},
                 {"prior": "sometimes"}):
        assert_json_error(client.post("/v1/predict", json={"names": ["Qin"], **body}), 422)


def test_unknown_or_repeated_query_parameters_are_named_in_a_422(client):
    detail = assert_json_error(client.get("/v1/predict", params={"name": "Qin", "topk": 2}), 422)
    assert "topk" in detail
    assert "top_k" in assert_json_error(client.post("/v1/predict?top_k=2", json={"names": ["Qin"]}), 422)
    assert "name" in assert_json_error(client.get("/v1/predict?name=Qin&name=Li"), 422)


# --- explanations -----------------------------------------------------------------------------


def test_explain_over_http(client):
    e = client.get("/v1/explain", params={"name": "Nakamura", "top_k": 2}).json()
    assert e["name"] == "Nakamura" and [s["prefix"] for s in e["steps"]][-1] == e["normalized"]
    assert all(len(s["predictions"]) <= 2 for s in e["steps"])
    assert_json_error(client.get("/v1/explain", params={"name": "Qin", "top_k": 2, "k": 1}), 422)


def test_explain_is_a_404_for_a_model_without_it():
    (r,) = asgi_requests(create_app(FakeClassifier()), ("GET", "/v1/explain", {"params": {"name": "Qin"}}))
    assert_json_error(r, 404)


# --- bad requests -----------------------------------------------------------------------------

BAD_GETS = {
    "missing name": {},
    "name over 100 characters": {"name": "a" * 101},
    "huge name": {"name": "a" * 20_000},
    "top_k 0": {"name": "Qin", "top_k": 0},
    "top_k over the labels": {"name": "Qin", "top_k": 5},
    "top_k negative": {"name": "Qin", "top_k": -1},
    "top_k not a number": {"name": "Qin", "top_k": "three"},
    "top_k huge": {"name": "Qin", "top_k": "9" * 40},
}


@pytest.mark.parametrize("params", BAD_GETS.values(), ids=BAD_GETS.keys())
def test_bad_get_is_a_json_422(client, params):
    assert_json_error(client.get("/v1/predict", params=params), 422)


BAD_POSTS = {
    "not an object": [["Qin"]],
    "missing names": {"top_k": 3},
    "names not a list": {"names": "Qin"},
    "names of numbers": {"names": [1, 2]},
    "a null name": {"names": ["Qin", None]},
    "empty names list": {"names": []},
    "1,001 names": {"names": ["Qin"] * 1001},
    "name over 100 characters": {"names": ["Qin", "a" * 101]},
    "huge name": {"names": ["a" * 60_000]},
    "top_k 0": {"names": ["Qin"], "top_k": 0},
    "top_k over the labels": {"names": ["Qin"], "top_k": 5},
    "top_k a string": {"names": ["Qin"], "top_k": "3"},
    "top_k a float": {"names": ["Qin"], "top_k": 1.5},
    "top_k a bool": {"names": ["Qin"], "top_k": True},
    "unknown field": {"names": ["Qin"], "topk": 3},
}


@pytest.mark.parametrize("body", BAD_POSTS.values(), ids=BAD_POSTS.keys())
def test_bad_post_is_a_json_422(client, body):
    assert_json_error(client.post("/v1/predict", json=body), 422)


@pytest.mark.parametrize("content", [b'{"names": ["Qin",', b"", b"\xff\xfe", b'{"names": ["\\ud800"]}', b"null"])
def test_malformed_or_invalid_json_is_a_json_4xx(client, content):
    assert_json_error(client.post("/v1/predict", content=content, headers={"content-type": "application/json"}))


def test_a_body_that_is_not_json_is_a_json_422(client):
    r = client.post("/v1/predict", content=b'{"names": ["Qin"]}', headers={"content-type": "text/plain"})
    assert_json_error(r, 422)


def raw_request(url: str, data: bytes, timeout: float = 10) -> bytes:
    """What the server answers to `data`, read until it closes the connection or sends a whole answer."""
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk
            head, sep, body = out.partition(b"\r\n\r\n")
            length = re.search(rb"content-length: (\d+)", head, re.I)
            if sep and (b"HEAD /" in data[:5] or (length and len(body) >= int(length.group(1)))):
                return out


@pytest.mark.parametrize("query", [b"name=%FF", b"name=Q%C3", b"name=%ED%A0%80", b"name=Qin&x%FF=1"])
def test_a_query_string_that_is_not_utf8_is_a_400(server, query):
    r = raw_request(server, b"GET /v1/predict?" + query + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 400") and b"UTF-8" in r


def test_huge_url_is_a_json_400(server):
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(b"GET /v1/predict?name=" + b"a" * 1_000_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        except ConnectionError:
            pass  # the server answers and closes before reading it all
        data = b""
        while b"}" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"application/json" in head.lower()
    assert json.loads(body)["detail"]


def test_unknown_path_and_method_are_json_errors(client):
    assert_json_error(client.get("/v1/nope"), 404)
    r = client.put("/v1/predict", json={"names": ["Qin"]})
    assert_json_error(r, 405)
    assert {m.strip() for m in r.headers["allow"].split(",")} == {"GET", "POST"}


def test_the_server_is_still_healthy_after_the_bad_requests(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/v1/predict", params={"name": "Qin"}).status_code == 200
