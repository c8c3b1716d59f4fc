"""Predicting over files: every format keeps the other columns, row order and count; malformed
input names the line; output files appear whole or not at all."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nameorigin import stream
from nameorigin.cli import main
from nameorigin.cli.model_args import add_file_options
from nameorigin.errors import NameOriginError
from nameorigin.inference.classifier import load_model
from nameorigin.stream.writers import inert

RESULT = ["label", "probability", "abstained", "reason", "normalized",
          "top1_label", "top1_probability", "top2_label", "top2_probability", "top3_label", "top3_probability"]
ROWS = [  # (id, name, note); names 3-6 can't be scored
    ("1", "Qin", "plain"),
    ("2", "Ślusàrski", "accents, and a comma"),
    ("3", "", 'a "quoted" note'),
    ("4", "😀", "emoji only"),
    ("5", "1234", "digits"),
    ("6", "   ", "spaces"),
    ("7", "Ivanov", "multi\nline"),
]
ABSTAINED = {"3": "empty name", "4": "no Latin letters", "5": "no Latin letters", "6": "empty name"}


@pytest.fixture(scope="module")
def model_dir(small_corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model") / "gru"
    assert main(["train", "--arch", "gru", "--epochs", "1", "--hidden-size", "16", "--num-layers", "1",
                 "--data", str(small_corpus), "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def clf(model_dir):
    return load_model(model_dir)


def write_rows(path: Path, fmt: str, rows=ROWS) -> Path:
    if fmt == "jsonl":
        text = "".join(json.dumps({"id": i, "name": n, "note": x}) + "\n" for i, n, x in rows)
        path.write_text(text, encoding="utf-8")
    elif fmt == "text":
        path.write_text("".join(n + "\n" for _, n, _ in rows), encoding="utf-8")
    else:
        with path.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f, delimiter=stream.DELIMITERS[fmt]).writerows([("id", "name", "note"), *rows])
    return path


def read_rows(path: Path, fmt: str) -> tuple[list[str], list[dict]]:
    if fmt == "jsonl":
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        return (list(rows[0]) if rows else []), rows
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter=stream.DELIMITERS[fmt])
        return list(reader.fieldnames or []), list(reader)


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_round_trip_keeps_other_columns_order_and_abstentions(clf, tmp_path, fmt):
    src = write_rows(tmp_path / f"in.{fmt}", fmt)
    assert stream.predict_file(clf, src, tmp_path / f"out.{fmt}", progress=False) == len(ROWS)
    columns, rows = read_rows(tmp_path / f"out.{fmt}", fmt)
    if fmt == "jsonl":
        assert columns == ["id", "name", "note", "label", "probability", "abstained", "reason", "normalized",
                           "predictions"]
    else:
        assert columns == ["id", "name", "note", *RESULT]
    assert [(r["id"], r["name"], r["note"]) for r in rows] == ROWS
    for r in rows:
        abstained = r["abstained"] in (True, "true")
        assert abstained == (r["id"] in ABSTAINED)
        if abstained:
            assert ABSTAINED[r["id"]] in r["reason"] and r["label"] in (None, "")
        else:
            assert r["label"] in clf.labels and 0 < float(r["probability"]) <= 1


def test_text_input_defaults_to_csv_with_a_name_column(clf, tmp_path):
    src = write_rows(tmp_path / "names.txt", "text")
    out = io.StringIO()
    assert stream.predict_file(clf, src, out, progress=False) == len(ROWS)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["name"] for r in rows][:3] == ["Qin", "Ślusàrski", ""]
    assert rows[2]["reason"] == "empty name"


def test_output_format_follows_the_extension_then_the_flag(clf, tmp_path):
    src = write_rows(tmp_path / "in.csv", "csv")
    stream.predict_file(clf, src, tmp_path / "out.jsonl", progress=False)
    assert json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])["id"] == "1"
    stream.predict_file(clf, src, tmp_path / "out.jsonl", output_format="tsv", progress=False)
    assert (tmp_path / "out.jsonl").read_text().startswith("id\tname\tnote\tlabel")


def test_jsonl_to_csv_fills_missing_keys_and_keeps_non_strings_abstained(clf):
    src = io.BytesIO(b'{"name": "Qin", "n": 1}\n\n{"name": null}\n{"n": [2], "name": 7}\n')
    out = io.StringIO()
    assert stream.predict_file(clf, src, out, input_format="jsonl", output_format="csv", progress=False) == 3
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["name"], r["n"], r["abstained"]) for r in rows] == [("Qin", "1", "false"), ("", "", "true"),
                                                                   ("7", "[2]", "true")]
    assert rows[1]["reason"] == "not a string"


def test_custom_column_and_top_k(clf):
    src = io.BytesIO("id;who\n1;Qin\n".replace(";", "\t").encode())
    out = io.StringIO()
    stream.predict_file(clf, src, out, column="who", input_format="tsv", output_format="csv", top_k=1,
                        progress=False)
    assert out.getvalue().splitlines()[0] == ("id,who,label,probability,abstained,reason,normalized,"
                                              "top1_label,top1_probability")


@pytest.mark.parametrize("fmt, data, expected", [
    ("text", b"", "name,label,probability"),
    ("csv", b"", "name,label,probability"),
    ("csv", b"id,name,note\n", "id,name,note,label,probability"),
    ("jsonl", b"", ""),
])
def test_empty_input_gives_header_only_output(clf, fmt, data, expected):
    out = io.StringIO()
    output_format = "jsonl" if fmt == "jsonl" else "csv"
    assert stream.predict_file(clf, io.BytesIO(data), out, input_format=fmt, output_format=output_format,
                               progress=False) == 0
    assert out.getvalue().startswith(expected) and out.getvalue().count("\n") == (fmt != "jsonl")


def test_stdin_to_stdout_in_a_pipe(model_dir):
    driver = ("import argparse, sys; from nameorigin import stream; from nameorigin.inference.classifier import load_model\n"
              "from nameorigin.cli.model_args import add_file_options\n"
              "p = argparse.ArgumentParser(); p.add_argument('--model'); p.add_argument('--top-k', type=int, "
              "default=3); add_file_options(p); args = p.parse_args()\n"
              "sys.exit(print(stream.command(args, load_model(args.model)), file=sys.stderr))")
    proc = subprocess.run([sys.executable, "-c", driver, "--model", str(model_dir), "--input", "-",
                           "--input-format", "jsonl", "--format", "tsv", "--chunk-size", "2"],
                          input='{"name": "Qin", "k": "é"}\n{"name": ""}\n{"name": "Ivanov"}\n'.encode(),
                          capture_output=True, timeout=120, env={**os.environ, "TQDM_DISABLE": "1"})
    assert proc.returncode == 0, proc.stderr.decode()
    rows = list(csv.DictReader(io.StringIO(proc.stdout.decode("utf-8")), delimiter="\t"))
    assert [(r["name"], r["k"], r["abstained"]) for r in rows] == [("Qin", "é", "false"), ("", "", "true"),
                                                                   ("Ivanov", "", "false")]
    assert proc.stderr.decode().strip() == "3"


@pytest.mark.parametrize("fmt, data, match", [
    ("csv", b"id,nom\n1,Qin\n", r"line 1: no column 'name' in the header; found 'id', 'nom'"),
    ("csv", b"id,name\n1,Qin\n2,Ivanov,extra\n", r"line 3: 3 fields where the header has 2"),
    ("csv", b"id,name\n1,Qin\n2,\"Iva\nnov\"\n3\n", r"line 5: 1 fields"),
    ("csv", b"id,name\n1,Qin\n2,Iv\xe9nov\n", r"line 3: not valid UTF-8"),
    ("text", b"Qin\n\nIv\xff\n", r"line 3: not valid UTF-8"),
    ("jsonl", b'{"name": "Qin"}\n{"name": "Ivanov",}\n', r"line 2: not valid JSON"),
    ("jsonl", b'{"name": "Qin"}\n\n["Ivanov"]\n', r"line 3: expected a JSON object, found list"),
    ("jsonl", b'{"name": "Qin"}\n{"nom": "Ivanov"}\n', r"line 2: no key 'name'; this object has 'nom'"),
    ("csv", b"name,label,predicted_label\nQin,Chinese,x\n", r"line 1: column 'predicted_label' is also a result"),
    ("jsonl", b'{"name": "Qin"}\n{"name": "Li", "reason": 1}\n', r"line 2: key 'reason' is also a result"),
])
def test_malformed_input_names_the_line(clf, tmp_path, fmt, data, match):
    src = tmp_path / ("in." + {"text": "txt"}.get(fmt, fmt))
    src.write_bytes(data)
    with pytest.raises(NameOriginError, match=match) as err:
        stream.predict_file(clf, src, io.StringIO(), progress=False)
    assert str(err.value).startswith(str(src))


@pytest.mark.parametrize("fmt", ["text", "csv", "tsv", "jsonl"])
def test_a_file_with_no_line_ends_is_refused_as_it_is_read(clf, fmt):
    """/dev/zero has no line end: read whole it would fill memory; it is refused at the cap."""
    out = io.StringIO()
    with pytest.raises(NameOriginError, match=r"/dev/zero, line 1: a line longer than 1,048,576 characters"):
        stream.predict_file(clf, "/dev/zero", out, input_format=fmt, progress=False)
    assert out.getvalue() == ""


def test_a_field_past_the_csv_limit_is_too_long_and_writes_nothing(clf, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text('name\n"' + "x" * 200_000 + '"\nQin\n', encoding="utf-8")
    out = io.StringIO()
    with pytest.raises(NameOriginError, match=r"line 2: a field longer than 131,072 characters: not a name"):
        stream.predict_file(clf, src, out, progress=False)
    assert out.getvalue() == ""  # not even the header


def test_unknown_extension_asks_for_the_format(clf, tmp_path):
    (tmp_path / "names.dat").write_text("Qin\n")
    with pytest.raises(NameOriginError, match="--input-format"):
        stream.predict_file(clf, tmp_path / "names.dat", io.StringIO(), progress=False)


def test_output_file_is_replaced_whole_or_not_at_all(clf, tmp_path):
    good = "".join(f"{i},Name{i}\n" for i in range(50))
    src = tmp_path / "in.csv"
    dest = tmp_path / "out.csv"
    dest.write_text("precious\n")
    dest.chmod(0o640)
    src.write_text("id,name\n" + good + "51,Bad,row\n")
    with pytest.raises(NameOriginError, match="line 52"):
        stream.predict_file(clf, src, dest, chunk_size=8, progress=False)
    assert dest.read_text() == "precious\n"
    with pytest.raises(NameOriginError):
        stream.predict_file(clf, src, tmp_path / "new.csv", chunk_size=8, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]

    src.write_text("id,name\n" + good)
    assert stream.predict_file(clf, src, dest, chunk_size=8, progress=False) == 50
    assert len(dest.read_text().splitlines()) == 51 and dest.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]


def test_a_symlinked_output_keeps_its_link_and_a_fifo_stays_a_fifo(clf, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("Qin\nIvanov\n")
    target, link = tmp_path / "target.csv", tmp_path / "link.csv"
    target.write_text("old\n")
    link.symlink_to(target)
    assert stream.predict_file(clf, src, link, progress=False) == 2
    assert link.is_symlink() and len(target.read_text().splitlines()) == 3

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    assert stream.predict_file(clf, src, fifo, progress=False) == 2
    reader.join(10)
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # a rename would have swapped it for a plain file
    assert received and received[0].startswith("name,label,probability")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "link.csv", "pipe", "target.csv"]


def test_output_to_dev_stdout_writes_to_the_open_stdout(model_dir, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("Qin\nIvanov\n")
    log = tmp_path / "log.csv"
    log.write_text("earlier\n")
    with open(log, "a") as appended:  # `>> log.csv`: the earlier lines must stay
        subprocess.run([sys.executable, "-m", "nameorigin.cli", "predict", "--model", str(model_dir), "--input",
                        str(src), "--output", "/dev/stdout"], stdout=appended, check=True, timeout=120,
                       env={**os.environ, "TQDM_DISABLE": "1"})
    lines = log.read_text().splitlines()
    assert lines[0] == "earlier" and lines[1].startswith("name,label") and len(lines) == 4


def test_a_folder_as_output_is_a_clear_error(clf, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("Qin\n")
    (tmp_path / "out").mkdir()
    with pytest.raises(NameOriginError, match="out: is a folder"):
        stream.predict_file(clf, src, tmp_path / "out", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "out"]


def test_twenty_thousand_rows_in_order(clf, tmp_path):
    src = tmp_path / "big.csv"
    names = ("Qin", "Ivanov", "", "Papadopoulos", "42", "Li" * 500)  # one long value per chunk
    src.write_text("id,name\n" + "".join(f"{i},{names[5 if i % 4000 == 1 else i % 5]}\n" for i in range(20_000)))
    assert stream.predict_file(clf, src, tmp_path / "big.out.csv", chunk_size=4096, progress=False) == 20_000
    _, rows = read_rows(tmp_path / "big.out.csv", "csv")
    assert [int(r["id"]) for r in rows] == list(range(20_000))
    assert sum(r["abstained"] == "true" for r in rows) == 8_000


def test_command_writes_the_output_file(clf, tmp_path):
    parser = argparse.ArgumentParser()
    parser.add_argument("--top-k", type=int, default=3)
    add_file_options(parser)
    src = write_rows(tmp_path / "in.csv", "csv")
    args = parser.parse_args(["--input", str(src), "--output", str(tmp_path / "out.jsonl"), "--top-k", "2"])
    assert stream.command(args, clf) == len(ROWS)
    first = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])
    assert len(first["predictions"]) == 2


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",))), max_size=12))
def test_any_names_survive_a_csv_round_trip(clf, names):
    src = io.StringIO(newline="")
    csv.writer(src).writerows([("i", "name"), *((str(i), n) for i, n in enumerate(names))])
    out = io.StringIO()
    src.seek(0)
    assert stream.predict_file(clf, src, out, input_format="csv", chunk_size=5, progress=False) == len(names)
    rows = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert [r["name"] for r in rows] == [inert(n) for n in names]  # as written, or as text a spreadsheet won't run
    assert [r["i"] for r in rows] == [str(i) for i in range(len(names))]


def test_a_labelled_file_keeps_its_label_and_gets_prefixed_results(clf, tmp_path):
    src = tmp_path / "labelled.csv"
    src.write_text("name,label\nQin,Chinese\nIvanov,Russian\n")
    out = io.StringIO()
    assert stream.predict_file(clf, src, out, top_k=1, progress=False) == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["label"] for r in rows] == ["Chinese", "Russian"]
    assert all(r["predicted_label"] in clf.labels and r["predicted_top1_label"] for r in rows)


@pytest.mark.parametrize("data", [b"Qin\rIvanov\rLi\r", b"Qin\r\nIvanov\nLi", b"Qin\rIvanov\r\nLi\n"])
def test_text_lines_may_end_in_a_lone_cr(clf, data):
    out = io.StringIO()
    assert stream.predict_file(clf, io.BytesIO(data), out, input_format="text", progress=False) == 3
    assert [r["name"] for r in csv.DictReader(io.StringIO(out.getvalue()))] == ["Qin", "Ivanov", "Li"]


def test_line_ends_split_across_read_blocks_are_one_line_end(monkeypatch):
    from nameorigin.stream import readers

    monkeypatch.setattr(readers, "_BLOCK", 1)  # every CRLF straddles two blocks
    data = b"Qin\r\nIvanov\r\rLi\nZhang\r"
    assert list(readers.split_lines(io.BytesIO(data))) == [b"Qin", b"Ivanov", b"", b"Li", b"Zhang"]
    assert list(readers.split_lines(io.StringIO(data.decode()))) == ["Qin", "Ivanov", "", "Li", "Zhang"]


def test_a_bad_byte_after_cr_lines_is_named_by_its_line(clf):
    with pytest.raises(NameOriginError, match="line 3: not valid UTF-8"):
        stream.predict_file(clf, io.BytesIO(b"Qin\rLi\rIv\xff\r"), io.StringIO(), input_format="text",
                            progress=False)


def test_the_input_file_is_never_the_output(clf, tmp_path):
    src = tmp_path / "names.csv"
    src.write_text("name\nQin\n")
    link = tmp_path / "link.csv"
    link.symlink_to(src)
    for dest in (src, link):
        with pytest.raises(NameOriginError, match="is also the input"):
            stream.predict_file(clf, src, dest, progress=False)
    with open(src, "rb") as stdin_redirected:
        with pytest.raises(NameOriginError, match="is also the input"):
            stream.predict_file(clf, stdin_redirected, src, input_format="csv", progress=False)
    assert src.read_text() == "name\nQin\n" and sorted(p.name for p in tmp_path.iterdir()) == ["link.csv",
                                                                                             "names.csv"]


def test_an_output_extension_that_names_no_format_is_refused(clf, tmp_path):
    src = write_rows(tmp_path / "in.csv", "csv")
    with pytest.raises(NameOriginError, match=r"out.xlsx: .*extension '.xlsx' \(known: .csv, .tsv, .jsonl\); "
                                              "pass --format"):
        stream.predict_file(clf, src, tmp_path / "out.xlsx", progress=False)
    assert not (tmp_path / "out.xlsx").exists()
    assert stream.predict_file(clf, src, tmp_path / "out.xlsx", output_format="tsv", progress=False) == len(ROWS)
    assert (tmp_path / "out.xlsx").read_text().startswith("id\tname\tnote\t")


def test_refusals_exit_2_with_one_line(model_dir, tmp_path, capsys):
    src = tmp_path / "names.txt"
    src.write_text("Qin\n")
    for output in (str(src), str(tmp_path / "out.xlsx")):
        assert main(["predict", "--model", str(model_dir), "--input", str(src), "--output", output, "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("nameorigin: error: ") and err.count("\n") == 1
    assert src.read_text() == "Qin\n"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_names_the_output_file(model_dir, tmp_path, capsys):
    src = tmp_path / "names.txt"
    src.write_text("Qin\n")
    assert main(["predict", "--model", str(model_dir), "--input", str(src), "--output", "/dev/full", "--quiet"]) == 1
    assert capsys.readouterr().err == "nameorigin: error: No space left on device: /dev/full\n"


@pytest.mark.parametrize("line, match", [
    (b'{"name": ' + b"[" * 100000 + b"]" * 100000 + b"}", r"line 2: nested more than 100 levels deep$"),
    (b'{"name": "Li", "n": ' + b"[" * 150 + b"]" * 150 + b"}", r"line 2: nested more than 100 levels deep$"),
    (b'{"name": "Li", "id": ' + b"7" * 5000 + b"}", r"line 2: a number of 5000 digits, too long to read$"),
    (b'{"name": "Li", "score": NaN}', r"line 2: NaN is not a JSON value$"),
    (b'{"name": "Li", "score": 1e999}', r"line 2: the number 1e999 is too large$"),
])
def test_hostile_jsonl_lines_are_named_and_exit_2(model_dir, tmp_path, capsys, line, match):
    import re

    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"name": "Qin"}\n' + line + b"\n")
    assert main(["predict", "--model", str(model_dir), "--input", str(src), "--output", str(tmp_path / "out.jsonl"),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nameorigin: error: {src}, line 2: ") and err.count("\n") == 1
    assert re.search(match, err.rstrip("\n")) and not (tmp_path / "out.jsonl").exists()


def test_jsonl_numbers_and_nesting_within_reason_still_pass_through(clf, tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    row = {"name": "Qin", "id": int("9" * 4000), "n": json.loads("[" * 50 + "]" * 50), "x": 1.5}
    src.write_text(json.dumps(row) + "\n")
    assert stream.predict_file(clf, src, out, progress=False) == 1
    got = json.loads(out.read_text())
    assert {k: got[k] for k in row} == row


def test_the_input_pipe_is_never_the_output(tiny_model):
    """`--input - --output /dev/stdin` on a pipe would open its own input for writing and wait on
    itself for ever: refused in one line, by the pipe's identity."""
    proc = subprocess.run([sys.executable, "-m", "nameorigin.cli", "predict", "--model", str(tiny_model), "--input",
                           "-", "--output", "/dev/stdin", "--quiet"], input=b"name\nSmith\n", capture_output=True,
                          timeout=60)
    assert proc.returncode == 2 and b"is also the input" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr


def test_a_csv_with_lone_cr_line_ends_is_read_as_the_same_text_is(clf):
    """Old Mac files end lines with CR alone; text input always read them, and CSV does too now."""
    out = io.StringIO()
    assert stream.predict_file(clf, io.BytesIO(b"name,id\rQin,1\rIvanov,2\r"), out, input_format="csv",
                               progress=False) == 2
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert [r[:2] for r in rows[1:]] == [["Qin", "1"], ["Ivanov", "2"]]
    quoted = io.StringIO()  # a quoted field may still span lines, whatever their ends
    stream.predict_file(clf, io.BytesIO(b'name,id\r"Li\r\nMing",1\r'), quoted, input_format="csv", progress=False)
    assert list(csv.reader(io.StringIO(quoted.getvalue())))[1][:2] == ["Li\r\nMing", "1"]


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_a_cell_a_spreadsheet_would_run_is_written_as_text(clf, tmp_path, fmt):
    rows = [("1", "=HYPERLINK(\"http://x\")", "+cmd|' /C calc'!A0"), ("2", "@SUM(1)", "-2+3"), ("3", "Qin", "plain")]
    out = tmp_path / f"out.{fmt}"
    stream.predict_file(clf, write_rows(tmp_path / f"in.{fmt}", fmt, rows), out, progress=False)
    _, got = read_rows(out, fmt)
    assert [(r["name"], r["note"]) for r in got] == [("'=HYPERLINK(\"http://x\")", "'+cmd|' /C calc'!A0"),
                                                     ("'@SUM(1)", "'-2+3"), ("Qin", "plain")]
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in got for cell in r.values())
    jsonl = tmp_path / "out.jsonl"
    stream.predict_file(clf, write_rows(tmp_path / "in.jsonl", "jsonl", rows), jsonl, progress=False)
    assert [r["name"] for r in read_rows(jsonl, "jsonl")[1]][0] == "=HYPERLINK(\"http://x\")"


def test_group_answers_fill_every_column_the_header_names(tmp_path):
    """At the coarse level there are fewer answers than labels: each row still has as many cells
    as the header, the top-k columns past the groups left empty."""
    from nameorigin import load_model
    from nameorigin.stream import predict_file

    clf = load_model("world")
    source, out = tmp_path / "names.txt", tmp_path / "out.csv"
    source.write_text("Angela Merkel\nQin\n", encoding="utf-8")
    predict_file(clf, str(source), str(out), top_k=len(clf.labels), progress=False, answers={"level": "group"})
    with open(out, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert len(clf.labels_at("group")) < len(clf.labels)
    assert {len(row) for row in rows} == {len(rows[0])}
