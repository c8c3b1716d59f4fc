"""The text of a report: report.md for one checkpoint, and the comparison table of `reproduce`
(as markdown, and aligned for a terminal)."""

from __future__ import annotations

import html

from pathlib import Path


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


def text(value: str) -> str:
    """`value` (a label from a file name or a CSV cell, a folder's name) as Markdown shows it
    literally: no HTML runs from it (`<img onerror=...>`), no ``|`` ends a table cell."""
    return html.escape(value, quote=False).replace("|", "\\|")


def per_class_table(report: dict) -> list[str]:
    lines = ["| label | precision | recall | F1 | support |", "| --- | ---: | ---: | ---: | ---: |"]
    for label, r in report["per_class"].items():
        cell = text(label)
        lines.append(f"| {cell} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {r['support']} |")
    return lines


def _describe_config(config: dict) -> str:
    keys = ("arch", "hidden_size", "num_layers", "embedding_dim", "bidirectional", "dropout", "ensemble",
            "epochs", "batch_size", "lr", "schedule", "class_weight", "seed")
    skip = {"num_layers"} if config.get("arch") == "rnn" else set()  # the reference's cell is one layer
    return ", ".join(f"{k} {config[k]}" for k in keys if k in config and k not in skip)


def short_split(split: dict) -> str:
    val = f" + {split['n_val']} val" if split.get("n_val") else ""
    return f"{split['kind']} {split['seed']}: {split['n_train']}{val} / {split['n_test']}"


def _describe_split(split: dict) -> str:
    return (f"{split['kind']} (seed {split['seed']}): {split['n_train']} train / {split.get('n_val', 0)} "
            f"validation / {split['n_test']} test")


def render_report(meta: dict, report: dict, model_dir: Path, images: dict[str, str]) -> str:
    name = text(model_dir.resolve().name)
    config = meta.get("config", {})
    lines = [
        f"# nameorigin report: {name}",
        "",
        f"- checkpoint: {text(str(model_dir))} (revision `{report['model_revision'][:12]}`)",
        f"- model: {_describe_config(config)}",
        f"- split: {_describe_split(report['split'])}",
        f"- softmax temperature: {report['temperature']:.3f}"
        + (f", {meta['one_word_temperature']:.3f} for names of one word" if meta.get("one_word_temperature") else "")
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
        *per_class_table(report),
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


def render_comparison(rows: list[dict], out: Path, fast: bool, images: list[str]) -> str:
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
