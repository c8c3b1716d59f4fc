"""Reports a person can read: plots of a checkpoint and the reference experiment in one command.

``write_report`` scores a checkpoint on its own test split and writes four PNG plots (training
curves, row-normalized confusion matrix, per-class F1, reliability diagram) and a ``report.md``
page that shows them next to the metrics. ``reproduce`` trains the reference presets and the
default preset on the seed split, reports each, and compares them in one table and two figures.

matplotlib is imported inside the plotting functions, on its Agg canvas without pyplot, so
importing this module (and the CLI) stays fast and never touches a display.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import NameOriginError
from .files import output_target

Log = Callable[[str], None]

DPI = 120
LOSS_PNG = "loss.png"
CONFUSION_PNG = "confusion.png"
F1_PNG = "per_class_f1.png"
RELIABILITY_PNG = "reliability.png"
PNGS = (LOSS_PNG, CONFUSION_PNG, F1_PNG, RELIABILITY_PNG)
REPORT_MD = "report.md"
COMPARE_F1_PNG = "compare_f1.png"
COMPARE_CONFUSION_PNG = "compare_confusion.png"
COMPARISON_MD = "comparison.md"

REFERENCE_PRESETS = ("reference-rnn", "reference-gru")
REPRODUCE_PRESETS = ("reference-rnn", "reference-gru", "default")
# Test accuracy the reference pipeline reports for its two models (shared/reference, 2 epochs).
PUBLISHED_ACCURACY = {"reference-rnn": 0.722471, "reference-gru": 0.814150}


def _stderr_log(message: str) -> None:
    print(message, file=sys.stderr)


# --- writing files atomically ---------------------------------------------------------------

def _atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file next to `path`, then move it over `path` (over the
    file a symlink points to; a device or FIFO is written in place, see `files.output_target`)."""
    target, replaceable = output_target(path)
    if not replaceable:
        write(target)
        return path
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        write(tmp)  # created by the writer, so with the umask's permissions (mkstemp's are 0600)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _save(fig, path: Path) -> Path:
    return _atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight",
                                                 facecolor="white"))


def _write_text(path: Path, text: str) -> Path:
    return _atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _out_dir(out: str | os.PathLike) -> Path:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NameOriginError(f"{out}: exists and is not a folder; choose another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NameOriginError(f"{out}: cannot create the output folder ({err.strerror})") from None
    return out


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


# --- scoring ----------------------------------------------------------------------------------

def _row_normalized(confusion) -> np.ndarray:
    cm = np.asarray(confusion, dtype=float)
    totals = cm.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, cm / np.maximum(totals, 1), np.nan)


# --- the four plots ---------------------------------------------------------------------------

def plot_history(history: dict, path: Path, title: str = "") -> Path:
    """Train (and validation) loss per epoch; validation accuracy and macro-F1 on a second axis."""
    from matplotlib.ticker import MaxNLocator

    train_loss = list(history.get("train_loss") or history.get("epoch_loss") or [])
    val_loss = list(history.get("val_loss") or [])
    val_acc = list(history.get("val_accuracy") or [])
    val_f1 = list(history.get("val_macro_f1") or [])
    best = history.get("best_epoch") or 0
    fig = _figure(7.5, 4.5)
    ax = fig.add_subplot()
    if not train_loss:
        ax.text(0.5, 0.5, "this checkpoint records no training history", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return _save(fig, path)
    handles = []
    epochs = np.arange(1, len(train_loss) + 1)
    handles += ax.plot(epochs, train_loss, "o-", color="tab:blue", label="train loss")
    if val_loss:
        handles += ax.plot(np.arange(1, len(val_loss) + 1), val_loss, "s-", color="tab:orange",
                           label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss")
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    if val_acc or val_f1:
        ax2 = ax.twinx()
        if val_acc:
            handles += ax2.plot(np.arange(1, len(val_acc) + 1), val_acc, "^--", color="tab:green",
                                label="validation accuracy")
        if val_f1:
            handles += ax2.plot(np.arange(1, len(val_f1) + 1), val_f1, "v--", color="tab:purple",
                                label="validation macro-F1")
        ax2.set_ylim(0, 1.02)
        ax2.set_ylabel("validation accuracy / macro-F1")
    if best:
        handles.append(ax.axvline(best, color="gray", linestyle=":", linewidth=1.5,
                                  label=f"best epoch ({best})"))
    if len(epochs) == 1:
        ax.set_xlim(0.5, 1.5)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False)
    seconds = history.get("seconds") or history.get("train_seconds")
    suffix = f" ({seconds:.0f} s of training)" if seconds else ""
    ax.set_title((title + ": " if title else "") + "training curves" + suffix)
    return _save(fig, path)


def _confusion_axes(ax, norm: np.ndarray, labels: list[str], *, annotate: float | None, fontsize: float,
                    ylabels: list[str] | None):
    import matplotlib

    cmap = matplotlib.colormaps["Blues"].with_extremes(bad="#dddddd")  # grey: no test names of the class
    image = ax.imshow(np.ma.masked_invalid(norm), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    n = len(labels)
    ax.set_xticks(range(n), labels, rotation=90, fontsize=fontsize + 1)
    ax.set_yticks(range(n), ylabels if ylabels is not None else labels, fontsize=fontsize + 1)
    if ylabels is None:
        ax.tick_params(axis="y", labelleft=False)
    ax.set_xlabel("predicted label")
    ax.set_xticks(np.arange(-0.5, n), minor=True)
    ax.set_yticks(np.arange(-0.5, n), minor=True)
    ax.grid(which="minor", color="white", linewidth=0.6)
    ax.tick_params(which="minor", length=0)
    if annotate is not None:
        for i in range(n):
            for j in range(n):
                v = norm[i, j]
                if np.isfinite(v) and v > 0 and v >= annotate:
                    text = f"{100 * v:.0f}" if v >= 0.005 else "·"
                    ax.text(j, i, text, ha="center", va="center", fontsize=fontsize,
                            color="white" if v > 0.55 else "black")
    return image


def plot_confusion(report: dict, path: Path, title: str = "") -> Path:
    """Row-normalized confusion matrix (each row: where one true class's names went), in percent."""
    labels = report["labels"]
    n = len(labels)
    norm = _row_normalized(report["confusion"])
    support = [report["per_class"][label]["support"] for label in labels]
    side = max(5.0, 0.5 * n + 2.5)
    fig = _figure(side + 1.2, side)
    ax = fig.add_subplot()
    image = _confusion_axes(ax, norm, labels, annotate=0.0, fontsize=8 if n > 10 else 10,
                            ylabels=[f"{label} ({s})" for label, s in zip(labels, support)])
    ax.set_ylabel("true label (test names)")
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of the true class")
    ax.set_title((title + ": " if title else "") + "confusion matrix, % of each true class"
                 f"\naccuracy {report['accuracy']:.1%}, {report['n_test']} test names")
    return _save(fig, path)


def plot_per_class_f1(report: dict, path: Path, title: str = "") -> Path:
    """Horizontal F1 bars, best class on top, each with its test support."""
    rows = sorted(report["per_class"].items(), key=lambda kv: (-kv[1]["f1"], kv[0]))
    n = len(rows)
    fig = _figure(7.5, max(3.0, 0.32 * n + 1.4))
    ax = fig.add_subplot()
    y = np.arange(n)
    f1 = [r["f1"] for _, r in rows]
    bars = ax.barh(y, f1, color="tab:blue", height=0.7)
    for bar, (_, r) in zip(bars, rows):
        ax.text(bar.get_width() + 0.01, bar.get_y() + bar.get_height() / 2,
                f"{r['f1']:.2f}  (n={r['support']})", va="center", fontsize=8)
    ax.axvline(report["macro_f1"], color="tab:red", linestyle="--", linewidth=1.2,
               label=f"macro-F1 {report['macro_f1']:.3f}")
    ax.set_yticks(y, [label for label, _ in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, 1.22)
    ax.set_xticks(np.linspace(0, 1, 6))
    ax.set_xlabel("F1 on the test split (n = test names of the class)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title((title + ": " if title else "") + "per-class F1")
    return _save(fig, path)


def plot_reliability(proba: np.ndarray, labels: np.ndarray, path: Path, title: str = "",
                     n_bins: int = 15) -> Path:
    """Accuracy per confidence bin against the diagonal, and how many predictions each bin holds."""
    from .calibration import expected_calibration_error, reliability

    bins = reliability(proba, labels, n_bins)
    ece = expected_calibration_error(proba, labels, n_bins)
    edges = np.asarray(bins["edges"])
    left, width = edges[:-1], np.diff(edges)
    count = np.asarray(bins["count"])
    acc = np.where(count > 0, bins["accuracy"], 0.0)
    conf = np.asarray(bins["confidence"])
    used = count > 0
    fig = _figure(6.0, 7.0)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.bar(left[used], acc[used], width=width[used], align="edge", color="tab:blue", edgecolor="black",
            linewidth=0.6, label="accuracy in the bin")
    top.bar(left[used], (conf - acc)[used], bottom=acc[used], width=width[used], align="edge",
            facecolor=(1, 0, 0, 0.12), edgecolor="tab:red", hatch="//", linewidth=0.8,
            label="gap to the bin's mean confidence")
    top.plot([0, 1], [0, 1], "--", color="gray", label="perfect calibration")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("accuracy")
    top.legend(loc="upper left", fontsize=8)
    top.grid(alpha=0.3)
    t = (title + ": " if title else "") + f"reliability, {n_bins} bins, ECE = {ece:.3f}"
    top.set_title(t)
    bottom.bar(left, count, width=width, align="edge", color="gray", edgecolor="black", linewidth=0.6)
    if count.max() > 0 and count.max() / max(count[used].min(), 1) > 50:
        bottom.set_yscale("log")
    bottom.set_ylabel("names")
    bottom.set_xlabel("confidence (top probability)")
    bottom.grid(alpha=0.3)
    return _save(fig, path)


# --- report.md --------------------------------------------------------------------------------

def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def _metrics_table(report: dict) -> list[str]:
    return [
        "| metric | value |",
        "| --- | ---: |",
        f"| accuracy | {_pct(report['accuracy'])} |",
        f"| macro-F1 | {report['macro_f1']:.3f} |",
        f"| top-3 accuracy | {_pct(report['top3_accuracy'])} |",
        f"| ECE (15 bins) | {report['ece']:.3f} |",
        f"| test names (n_test) | {report['n_test']} |",
    ]


def _per_class_table(report: dict) -> list[str]:
    lines = ["| label | precision | recall | F1 | support |", "| --- | ---: | ---: | ---: | ---: |"]
    for label, r in report["per_class"].items():
        cell = label.replace("|", "\\|")  # a label comes from a file name or a CSV cell
        lines.append(f"| {cell} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {r['support']} |")
    return lines


def _describe_config(config: dict) -> str:
    keys = ("arch", "hidden_size", "num_layers", "embedding_dim", "bidirectional", "dropout", "ensemble",
            "epochs", "batch_size", "lr", "schedule", "class_weight", "seed")
    skip = {"num_layers"} if config.get("arch") == "rnn" else set()  # the reference's cell is one layer
    return ", ".join(f"{k} {config[k]}" for k in keys if k in config and k not in skip)


def _short_split(split: dict) -> str:
    val = f" + {split['n_val']} val" if split.get("n_val") else ""
    return f"{split['kind']} {split['seed']}: {split['n_train']}{val} / {split['n_test']}"


def _describe_split(split: dict) -> str:
    return (f"{split['kind']} (seed {split['seed']}): {split['n_train']} train / {split.get('n_val', 0)} "
            f"validation / {split['n_test']} test")


def _render_report(meta: dict, report: dict, model_dir: Path, images: dict[str, str]) -> str:
    name = model_dir.resolve().name
    config = meta.get("config", {})
    lines = [
        f"# nameorigin report: {name}",
        "",
        f"- checkpoint: `{model_dir}` (revision `{report['model_revision'][:12]}`)",
        f"- model: {_describe_config(config)}",
        f"- split: {_describe_split(report['split'])}",
        f"- softmax temperature: {report['temperature']:.3f}"
        + (" (fitted on the validation split)" if config.get("calibrate") else " (not calibrated)"),
        "- logit adjustment: " + ("tuned on the validation split" if meta.get("logit_bias") else "none"),
        "",
        f"## Metrics on the test split ({report['n_test']} names)",
        "",
        *_metrics_table(report),
        "",
        "Accuracy alone flatters a model when classes are imbalanced (about half of the official corpus "
        "is Russian): macro-F1 weighs every language equally.",
        "",
        "## Training curves",
        "",
        f"![training curves]({images['loss']})",
        "",
        "## Confusion matrix",
        "",
        "Each row is one true language (test support in brackets); cells are the % of its names "
        "predicted as each column.",
        "",
        f"![confusion matrix]({images['confusion']})",
        "",
        "## Per-class F1",
        "",
        f"![per-class F1]({images['f1']})",
        "",
        *_per_class_table(report),
        "",
        "## Calibration",
        "",
        "Bars: accuracy of the predictions in each confidence bin; on the diagonal, \"90 % sure\" is "
        "right 90 % of the time. Below: how many test names fall in each bin.",
        "",
        f"![reliability diagram]({images['reliability']})",
        "",
    ]
    return "\n".join(lines)


def _report(model_dir, out_dir, data) -> tuple[Path, dict]:
    from .checkpoint import read_metadata
    from .evaluate import score_checkpoint
    from .predict import default_model_path

    if model_dir is None:
        model_dir, out_dir = default_model_path(), out_dir or "nameorigin-report"
    model_dir = Path(model_dir)
    meta = read_metadata(model_dir)
    report, proba, labels = score_checkpoint(str(model_dir), data)
    out = _out_dir(out_dir if out_dir is not None else model_dir / "report")
    title = model_dir.resolve().name
    plot_history(meta.get("history") or {}, out / LOSS_PNG, title)
    plot_confusion(report, out / CONFUSION_PNG, title)
    plot_per_class_f1(report, out / F1_PNG, title)
    plot_reliability(proba, labels, out / RELIABILITY_PNG, title)
    images = {"loss": LOSS_PNG, "confusion": CONFUSION_PNG, "f1": F1_PNG, "reliability": RELIABILITY_PNG}
    path = _write_text(out / REPORT_MD, _render_report(meta, report, model_dir, images))
    return path, report


def write_report(model_dir: str | os.PathLike | None, out_dir: str | os.PathLike | None = None,
                 data: str | os.PathLike | None = None) -> Path:
    """Score the checkpoint `model_dir` on its test split (rebuilt from `data`) and write the four
    plots and ``report.md`` to `out_dir` (default ``<model_dir>/report``). Returns report.md's path."""
    return _report(model_dir, out_dir, data)[0]


# --- reproduce --------------------------------------------------------------------------------

def preset_config(preset: str, fast: bool = False, overrides: dict | None = None):
    """A preset's config; with `fast`, a reference preset becomes its architecture's fast batched
    settings (same model, far fewer steps); `overrides` then apply to every preset."""
    from .config import FAST, PRESETS

    if preset not in PRESETS:
        raise NameOriginError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    config = PRESETS[preset][0]
    if fast and preset in REFERENCE_PRESETS:
        config = replace(FAST[config.arch], split=config.split, seed=config.seed, test_size=config.test_size)
    try:
        return replace(config, **(overrides or {}))
    except TypeError as err:
        raise NameOriginError(f"bad config override: {err}") from None


def plot_compare_f1(reports: dict[str, dict], path: Path) -> Path:
    """Per-class F1 of several models in one grouped bar chart, classes by mean F1."""
    names = list(reports)
    labels = list(next(iter(reports.values()))["labels"])
    f1 = np.array([[reports[m]["per_class"][label]["f1"] for label in labels] for m in names])
    order = np.argsort(-f1.mean(axis=0), kind="stable")
    n, k = len(labels), len(names)
    fig = _figure(8.0, max(3.5, (0.13 * k + 0.12) * n + 1.6))
    ax = fig.add_subplot()
    height = 0.8 / k
    y = np.arange(n)
    for i, m in enumerate(names):
        ax.barh(y - 0.4 + height * (i + 0.5), f1[i, order], height=height,
                label=f"{m} (macro-F1 {reports[m]['macro_f1']:.3f})")
    support = [reports[names[0]]["per_class"][labels[j]]["support"] for j in order]
    ax.set_yticks(y, [f"{labels[j]} ({s})" for j, s in zip(order, support)])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("F1 on the test split")
    ax.set_ylabel("true label (test support)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.6 / fig.get_figheight()), ncol=1, frameon=False)
    ax.set_title("per-class F1, side by side")
    return _save(fig, path)


def plot_compare_confusion(reports: dict[str, dict], path: Path) -> Path:
    """Row-normalized confusion matrices of several models next to each other, one colour scale."""
    names = list(reports)
    labels = list(next(iter(reports.values()))["labels"])
    n, k = len(labels), len(names)
    side = max(3.5, 0.36 * n + 1.0)
    fig = _figure((side - 0.8) * k + 2.0, side + 1.2)
    axes = np.atleast_1d(fig.subplots(1, k, sharey=True))
    image = None
    for i, (ax, m) in enumerate(zip(axes, names)):
        r = reports[m]
        image = _confusion_axes(ax, _row_normalized(r["confusion"]), labels, annotate=0.1,
                                fontsize=6.5 if n > 10 else 9, ylabels=labels if i == 0 else None)
        ax.set_title(f"{m}\naccuracy {r['accuracy']:.1%}, macro-F1 {r['macro_f1']:.3f}", fontsize=10)
    axes[0].set_ylabel("true label")
    fig.colorbar(image, ax=list(axes), shrink=0.7,
                 label="share of the true class (cells: %, those under 10 % unlabelled)")
    return _save(fig, path)


_COLUMNS = ("model", "split", "accuracy", "macro-F1", "top-3", "ECE", "train s", "published accuracy")


def _cells(row: dict) -> list[str]:
    return [row["model"], row["split"], _pct(row["accuracy"]), f"{row['macro_f1']:.3f}",
            _pct(row["top3_accuracy"]), f"{row['ece']:.3f}", f"{row['train_seconds']:.0f}",
            _pct(row["published_accuracy"])]


def format_table(rows: list[dict]) -> str:
    """The comparison as aligned plain text, for a terminal."""
    cells = [list(_COLUMNS)] + [_cells(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(_COLUMNS))]
    lines = []
    for n, c in enumerate(cells):
        lines.append("  ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(c, widths))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _markdown_table(rows: list[dict]) -> list[str]:
    lines = ["| " + " | ".join(_COLUMNS) + " |", "| --- | --- |" + " ---: |" * (len(_COLUMNS) - 2)]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return lines


def _render_comparison(rows: list[dict], out: Path, fast: bool, images: list[str]) -> str:
    lines = [
        "# nameorigin: the reference experiment, reproduced",
        "",
        "Each model is trained on the seed split (the reference's stratified 90/10 split) and scored "
        "on the same test names. Split: kind seed: train (+ validation) / test names. The published "
        "accuracies are the reference pipeline's own figures for its 2-epoch RNN and GRU. Train s: "
        "seconds of training (without loading and scoring).",
        "",
        *_markdown_table(rows),
        "",
    ]
    if fast and any(r["fast"] for r in rows):
        lines += ["(fast) the reference model trained with its architecture's fast batched settings "
                  "(see `nameorigin.config.FAST`) instead of one name per step.", ""]
    for r in rows:
        lines.append(f"- {r['model']}: {_describe_config(r['config'])}; "
                     f"[report]({Path(r['report']).relative_to(out).as_posix()})")
    lines.append("")
    for image in images:
        lines += [f"![{image}]({image})", ""]
    return "\n".join(lines)


def reproduce(out_dir: str | os.PathLike, data: str | os.PathLike | None = None,
              presets=REPRODUCE_PRESETS, fast: bool = False, *, overrides: dict | None = None,
              device: str = "auto", progress: bool = False, log: Log = _stderr_log) -> list[dict]:
    """Train each preset into ``out_dir/<preset>`` on the seed split, write its report, then
    ``comparison.md`` and side-by-side figures. Returns the comparison table's rows."""
    from .checkpoint import check_replaceable
    from .data import load_corpus
    from .train import train_and_save

    presets = list(presets)
    if not presets:
        raise NameOriginError("choose at least one preset")
    configs = {p: preset_config(p, fast, overrides) for p in presets}
    out = _out_dir(out_dir)
    for preset in configs:  # all of them now, not after the first presets have trained
        check_replaceable(out / preset)
    corpus = load_corpus(data, progress=progress)
    source = data if data is not None else corpus.source
    rows, reports = [], {}
    for preset, config in configs.items():
        swapped = fast and preset in REFERENCE_PRESETS
        name = preset + (" (fast)" if swapped else "")
        log(f"{name}: training {config.arch} ({config.epochs} epochs, batch {config.batch_size}) "
            f"into {out / preset}")
        started = time.perf_counter()
        meta = train_and_save(config, str(out / preset), data=str(source), device=device, progress=progress,
                              log=log)
        report_md, report = _report(out / preset, out / preset / "report", corpus)
        reports[name] = report
        m = meta["metrics"]
        rows.append({
            "model": name, "preset": preset, "fast": swapped, "arch": config.arch,
            "split": _short_split(meta["split"]), "n_test": report["n_test"],
            "accuracy": report["accuracy"], "macro_f1": report["macro_f1"],
            "top3_accuracy": report["top3_accuracy"], "ece": report["ece"],
            "train_seconds": float(meta["history"]["seconds"]),
            "published_accuracy": PUBLISHED_ACCURACY.get(preset), "config": meta["config"],
            "checkpoint": str(out / preset), "report": str(report_md),
        })
        log(f"{name}: test accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f} "
            f"({time.perf_counter() - started:.0f} s)")
    images = [plot_compare_f1(reports, out / COMPARE_F1_PNG).name,
              plot_compare_confusion(reports, out / COMPARE_CONFUSION_PNG).name]
    _write_text(out / COMPARISON_MD, _render_comparison(rows, out, fast, images))
    return rows


# --- command line -----------------------------------------------------------------------------

_DATA_HELP = ("corpus: a folder of [Label].txt files, the tutorial's data.zip, or a name,label CSV/TSV "
              "(default: $NAMEORIGIN_DATA, else the cached or downloaded official corpus)")


def add_report_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.description = ("Plot a checkpoint on its own test split: training curves, confusion matrix, "
                          "per-class F1 and reliability diagram, with a report.md showing them.")
    parser.add_argument("--model", metavar="DIR",
                        help="checkpoint folder (default: the bundled model, reported into ./nameorigin-report)")
    parser.add_argument("--data", metavar="PATH", help=_DATA_HELP + "; must be the training corpus")
    parser.add_argument("--out", metavar="DIR", help="folder for the plots and report.md (default: DIR/report)")
    return parser


def report_command(args: argparse.Namespace) -> None:
    path = write_report(args.model, args.out, args.data)
    print(f"wrote {path} and its plots")


def add_reproduce_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from .config import PRESETS

    parser.description = ("The reference experiment in one command: train the reference RNN and GRU and the "
                          "default model on the seed split, report each, and compare them.")
    parser.add_argument("--out", default="runs/reproduce", metavar="DIR",
                        help="one checkpoint folder per preset, with its report, and comparison.md "
                             "(default: runs/reproduce)")
    parser.add_argument("--data", metavar="PATH", help=_DATA_HELP)
    parser.add_argument("--fast", action="store_true",
                        help="train the reference models with their fast batched settings (about a minute) "
                             "instead of one name per step (many minutes)")
    parser.add_argument("--presets", nargs="+", choices=list(PRESETS), default=list(REPRODUCE_PRESETS),
                        metavar="PRESET", help=f"which presets to train (default: all of {', '.join(PRESETS)})")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or logs")
    return parser


def reproduce_command(args: argparse.Namespace) -> None:
    log = (lambda s: None) if args.quiet else _stderr_log
    rows = reproduce(args.out, args.data, args.presets, args.fast, device=args.device,
                     progress=not args.quiet, log=log)
    print(format_table(rows))
    print(f"\nwrote {Path(args.out) / COMPARISON_MD}")
