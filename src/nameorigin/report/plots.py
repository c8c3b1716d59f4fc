"""The plots of a report: training curves, confusion matrix, per-class F1, reliability diagram,
and the side-by-side figures of `reproduce`.

matplotlib is imported inside the functions, on its Agg canvas without pyplot, so importing this
module (and the CLI) stays fast and never touches a display. Each figure is rendered to PNG in
memory and written with `files.atomic_write`, so a failed run never leaves half an image.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..files import atomic_write

DPI = 120


def _save(fig, path: Path) -> Path:
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    with atomic_write(path, "wb") as out:
        out.write(png.getvalue())
    return path


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _row_normalized(confusion) -> np.ndarray:
    cm = np.asarray(confusion, dtype=float)
    totals = cm.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, cm / np.maximum(totals, 1), np.nan)


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
    from ..evaluation.metrics import expected_calibration_error, reliability

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
