"""Reports: the four plots and report.md of a checkpoint, and `reproduce` on a tiny corpus."""

from __future__ import annotations

import argparse
import json
import shutil

import pytest

from nameorigin.cli.model_args import add_report_options as add_report_arguments
from nameorigin.cli.train_args import add_reproduce_options as add_reproduce_arguments
from nameorigin.errors import NameOriginError
from nameorigin.report import (COMPARE_CONFUSION_PNG, COMPARE_F1_PNG, COMPARISON_MD, PNGS, report_command, reproduce,
                               reproduce_command, write_report)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, path
    assert len(data) > 5000, f"{path} is suspiciously small ({len(data)} bytes)"


@pytest.fixture(scope="module")
def report_dir(tiny_model, small_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "out"
    path = write_report(tiny_model, out, data=small_corpus)
    assert path == out / "report.md"
    return out


def test_report_writes_four_pngs_and_a_page_that_shows_them(report_dir):
    for name in PNGS:
        assert_png(report_dir / name)
    page = (report_dir / "report.md").read_text(encoding="utf-8")
    for name in PNGS:
        assert f"]({name})" in page
    assert not list(report_dir.glob(".*")), "temporary files were left behind"


def test_report_page_carries_the_checkpoint_metrics(report_dir, tiny_model):
    page = (report_dir / "report.md").read_text(encoding="utf-8")
    metrics = json.loads((tiny_model / "model.json").read_text())["metrics"]
    assert f"| accuracy | {100 * metrics['accuracy']:.1f} % |" in page
    assert f"| macro-F1 | {metrics['macro_f1']:.3f} |" in page
    assert f"| top-3 accuracy | {100 * metrics['top3_accuracy']:.1f} % |" in page
    assert f"| ECE (15 bins) | {metrics['ece']:.3f} |" in page
    assert f"| test names (n_test) | {metrics['n_test']} |" in page
    for label in ("Chinese", "Greek", "Japanese", "Russian"):
        assert f"| {label} | " in page


def test_report_command_defaults_to_the_model_folder(tiny_model, small_corpus, tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    args = add_report_arguments(argparse.ArgumentParser()).parse_args(
        ["--model", str(model), "--data", str(small_corpus)])
    report_command(args)
    assert (model / "report" / "report.md").is_file()
    assert "report.md" in capsys.readouterr().out


def test_report_refuses_a_missing_checkpoint_and_a_foreign_corpus(tiny_model, small_corpus, tmp_path):
    with pytest.raises(NameOriginError):
        write_report(tmp_path / "nothing", tmp_path / "out", data=small_corpus)
    other = tmp_path / "names"
    other.mkdir()
    for label in ("Greek", "Russian"):
        (other / f"{label}.txt").write_text((small_corpus / f"{label}.txt").read_text(encoding="utf-8"),
                                            encoding="utf-8")
    with pytest.raises(NameOriginError, match="not the corpus"):
        write_report(tiny_model, tmp_path / "out", data=other)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(NameOriginError, match="not a folder"):
        write_report(tiny_model, blocker, data=small_corpus)


def test_evaluate_and_report_work_on_a_two_label_model(names_dir, tmp_path, capsys):
    from nameorigin.cli import main
    from nameorigin.config import Config
    from nameorigin.training.pipeline import train_and_save

    corpus = tmp_path / "two.csv"
    rows = [f"{name},{label}" for label in ("Chinese", "Korean")
            for name in (names_dir / f"{label}.txt").read_text(encoding="utf-8").split()]
    corpus.write_text("name,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    model = tmp_path / "model"
    train_and_save(Config(arch="rnn", hidden_size=16, epochs=1, batch_size=32, lr=1e-2), str(model),
                   data=str(corpus), progress=False, log=lambda s: None)
    capsys.readouterr()

    assert main(["evaluate", "--model", str(model), "--data", str(corpus), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["labels"] == ["Chinese", "Korean"]
    assert report["top3_accuracy"] == 1.0  # top-k with k = min(3, 2 labels): both labels are always in it
    assert main(["report", "--model", str(model), "--data", str(corpus), "--out", str(tmp_path / "rep")]) == 0
    page = (tmp_path / "rep" / "report.md").read_text(encoding="utf-8")
    assert "| top-3 accuracy | 100.0 % |" in page and "| Korean | " in page


def test_reproduce_checks_every_output_folder_before_training(small_corpus, tmp_path):
    (tmp_path / "reference-gru").mkdir()
    (tmp_path / "reference-gru" / "notes.txt").write_text("mine")
    with pytest.raises(NameOriginError, match="reference-gru: holds files that are not a nameorigin checkpoint"):
        reproduce(tmp_path, data=small_corpus, presets=["reference-rnn", "reference-gru"], fast=True,
                  overrides={"epochs": 1, "hidden_size": 16}, log=lambda s: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reference-gru"]  # nothing trained


def test_reproduce_trains_reports_and_compares(small_corpus, tmp_path):
    messages = []
    rows = reproduce(tmp_path, data=small_corpus, fast=True, overrides={"epochs": 1, "hidden_size": 16},
                     log=messages.append)
    assert [r["preset"] for r in rows] == ["reference-rnn", "reference-gru", "default"]
    assert [r["published_accuracy"] for r in rows] == [pytest.approx(0.7225, abs=1e-3),
                                                       pytest.approx(0.8142, abs=1e-3), None]
    for r in rows:
        assert r["n_test"] == 24 and 0 <= r["accuracy"] <= 1 and 0 <= r["macro_f1"] <= 1
        assert r["train_seconds"] > 0 and r["split"].startswith("seed")
        assert r["config"]["epochs"] == 1 and r["config"]["hidden_size"] == 16
        assert (tmp_path / r["preset"] / "model.json").is_file()
        assert (tmp_path / r["preset"] / "report" / "report.md").is_file()
    assert rows[0]["fast"] and rows[0]["config"]["batch_size"] > 1 and not rows[2]["fast"]
    for name in (COMPARE_F1_PNG, COMPARE_CONFUSION_PNG):
        assert_png(tmp_path / name)
    page = (tmp_path / COMPARISON_MD).read_text(encoding="utf-8")
    for r in rows:
        assert f"| {r['model']} | " in page and f"]({r['preset']}/report/report.md)" in page
    assert "72.2 %" in page and "81.4 %" in page
    assert f"]({COMPARE_F1_PNG})" in page and f"]({COMPARE_CONFUSION_PNG})" in page
    assert messages


def test_reproduce_command_prints_the_table(small_corpus, tmp_path, capsys):
    parser = add_reproduce_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--out", str(tmp_path), "--data", str(small_corpus), "--fast", "--quiet",
                              "--presets", "reference-gru"])
    reproduce_command(args)
    out = capsys.readouterr().out
    assert "reference-gru (fast)" in out and "81.4 %" in out and "macro-F1" in out
    assert (tmp_path / COMPARISON_MD).is_file()


def test_reproduce_rejects_bad_choices(small_corpus, tmp_path):
    with pytest.raises(NameOriginError, match="unknown preset"):
        reproduce(tmp_path, data=small_corpus, presets=["nope"])
    with pytest.raises(NameOriginError, match="override"):
        reproduce(tmp_path, data=small_corpus, presets=["default"], overrides={"no_such_knob": 1})
    with pytest.raises(SystemExit):
        add_reproduce_arguments(argparse.ArgumentParser()).parse_args(["--presets", "nope"])


def test_a_label_with_a_pipe_keeps_the_table_whole():
    from nameorigin.report.markdown import per_class_table

    row = {"precision": 1.0, "recall": 0.5, "f1": 0.667, "support": 2}
    lines = per_class_table({"per_class": {"Serbo|Croatian": row}})
    assert lines[-1] == r"| Serbo\|Croatian | 1.000 | 0.500 | 0.667 | 2 |"


def test_report_files_behind_symlinks_are_replaced_and_the_links_kept(tmp_path):
    from nameorigin.report.page import write_text

    target, link = tmp_path / "elsewhere.md", tmp_path / "report.md"
    target.write_text("old")
    link.symlink_to(target)
    write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"


def test_report_refuses_a_folder_holding_other_files(tiny_model, small_corpus, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.md").write_text("my own notes")
    (out / "thesis.tex").write_text("years of work")
    with pytest.raises(NameOriginError, match="out: holds files that are not a nameorigin report .*'thesis.tex'"):
        write_report(tiny_model, out, data=small_corpus)
    assert (out / "report.md").read_text() == "my own notes"
    (out / "thesis.tex").unlink()
    (out / "report.md").unlink()
    (out / ".loss.png.k2j3h4.part").write_bytes(b"left by a killed run")
    write_report(tiny_model, out, data=small_corpus)
    write_report(tiny_model, out, data=small_corpus)  # an earlier report is replaced
    assert (out / "report.md").is_file()


def test_reproduce_refuses_a_folder_holding_other_files(small_corpus, tmp_path):
    (tmp_path / "comparison.md").write_text("the one I wrote")
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(NameOriginError, match="holds files that are not a nameorigin reproduce run .*'notes.txt'"):
        reproduce(tmp_path, data=small_corpus, presets=["reference-rnn"], fast=True,
                  overrides={"epochs": 1, "hidden_size": 16}, log=lambda s: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comparison.md", "notes.txt"]


def test_report_takes_a_bundled_model_by_name(names_dir, tmp_path, monkeypatch):
    """`--model tutorial`, as --help says; the report goes to ./nameorigin-report, not into the package."""
    from nameorigin.checkpoint.bundled import bundled_path

    monkeypatch.chdir(tmp_path)
    path = write_report("tutorial", data=names_dir)
    assert path.resolve() == (tmp_path / "nameorigin-report" / "report.md").resolve()
    assert not (bundled_path("tutorial") / "report").exists()


@pytest.mark.parametrize("name, content", [("report.md", b"my own notes"), ("confusion.png", b"not a png at all")])
def test_report_refuses_a_file_under_its_name_that_it_did_not_write(tiny_model, small_corpus, tmp_path, name, content):
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_bytes(content)
    with pytest.raises(NameOriginError, match=f"holds '{name}', which no nameorigin report wrote"):
        write_report(tiny_model, out, data=small_corpus)
    assert (out / name).read_bytes() == content
    shutil.rmtree(out)
    write_report(tiny_model, out, data=small_corpus)
    (out / "report.md").write_text("edited by hand")
    with pytest.raises(NameOriginError, match="holds 'report.md', which no nameorigin report wrote"):
        write_report(tiny_model, out, data=small_corpus)


def test_a_report_that_fails_part_way_leaves_the_earlier_one_whole(tiny_model, small_corpus, tmp_path, monkeypatch):
    from nameorigin.report import page

    out = tmp_path / "out"
    write_report(tiny_model, out, data=small_corpus)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(page, "plot_per_class_f1", full_disk)  # after loss.png and confusion.png are written
    with pytest.raises(OSError):
        write_report(tiny_model, out, data=small_corpus)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing half-written beside it
    shutil.rmtree(out)
    with pytest.raises(OSError):
        write_report(tiny_model, out, data=small_corpus)
    assert not out.exists()  # not even an empty folder


def test_a_label_is_shown_as_text_in_the_report():
    from nameorigin.report.markdown import per_class_table

    row = {"precision": 1.0, "recall": 0.5, "f1": 0.667, "support": 2}
    lines = per_class_table({"per_class": {"<img src=x onerror=alert(10)>": row}})
    assert "<img" not in lines[-1] and "&lt;img src=x onerror=alert(10)&gt;" in lines[-1]


def test_a_label_with_a_control_character_is_refused_for_training(tmp_path):
    from nameorigin.data.corpus import load_corpus
    from nameorigin.errors import DataError

    (tmp_path / "names.csv").write_text("name,label\nSchmidt,Eng\tlish\nQin,Chinese\n", encoding="utf-8")
    with pytest.raises(DataError, match="holds a control character"):
        load_corpus(tmp_path / "names.csv", progress=False)
