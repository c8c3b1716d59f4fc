"""How a prediction forms as the model reads a name: the top labels after each prefix.

Each prefix of the text the model reads (Q, Qi, Qin) is scored as a name of its own through the
classifier's ordinary prediction path, `Classifier.predict`, so this works for every architecture
(a bidirectional model reads each prefix from both ends, as it would a whole name) and keeps the
checkpoint's normalization, logit bias, temperature, script evidence and abstention. The last
step is the answer for the whole name.

matplotlib is imported only by `plot`, on its Agg canvas without pyplot.
"""

from __future__ import annotations

import io
import os
from collections.abc import Generator, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import NameOriginError
from ..files import atomic_write, output_target
from ..text.names import compatible
from ..text.scripts import allowed_labels, display, script_of
from .records import Ranked

DPI = 120
# One heatmap row per character: past this many rows in one figure the rows stop being readable.
MAX_PLOT_ROWS = 200

DESCRIPTION = ("The top labels after each prefix of the name as the model reads it (Q, Qi, Qin), each "
               "prefix scored as a name of its own: how the prediction forms, character by character.")


class Scorer(Protocol):
    """What `explain` needs of a classifier: `predict.Classifier` on either backend."""

    labels: list[str]

    def predict(self, names: Iterable[str], top_k: int = 3) -> list: ...


@dataclass
class Step:
    """The top labels after one prefix of the name, best first (none for a prefix that cannot be
    read on its own, such as "'" of "'Abd")."""

    prefix: str
    predictions: list[Ranked]


@dataclass
class Explanation:
    """How a prediction forms: one `Step` per prefix as the model reads the name (none when it
    abstains); the last step is the name's own prediction. `to_dict` gives the JSON the command
    line and HTTP print."""

    name: str
    normalized: str
    abstained: bool
    reason: str | None
    steps: list[Step]
    model_revision: str

    def to_dict(self) -> dict:
        return asdict(self)


def _prefixes(text: str) -> list[str]:
    """Every prefix of `text`, shortest first; one that ends in a space reads as the one before."""
    return [text[:end] for end in range(1, len(text) + 1) if text[end - 1] != " "]


def _typed_steps(name: str, predictions: list) -> list[Step]:
    """Steps for a name whose script limits its labels (Han, Hangul, Arabic, ...): that script is
    evidence its ASCII transliteration has lost, so each prefix of the name as typed is scored,
    script and all, and shown as the text the model reads. A character that adds nothing to
    that text (a mark the transliteration drops) adds no step."""
    steps: list[Step] = []
    for p in predictions:
        if p.predictions and (not steps or steps[-1].prefix != p.normalized):
            steps.append(Step(p.normalized, p.predictions))
    return steps


def explaining(name: str) -> Generator[list[str], list, Explanation]:
    """`explain` as a generator, for a caller that schedules the scoring itself (the server, which
    budgets an explanation by its prefixes like any other request): it yields the names to score,
    is sent their predictions at the caller's top_k, and returns `explain`'s `Explanation`."""
    whole = (yield [name])[0]
    steps: list[Step] = []
    if whole.predictions and allowed_labels(script_of(compatible(name))) is not None:
        steps = _typed_steps(name, (yield [name[:end] for end in range(1, len(name) + 1)]))
    elif whole.predictions:
        prefixes = _prefixes(whole.normalized)
        steps = [Step(prefix, p.predictions) for prefix, p in zip(prefixes, (yield prefixes))]
    return Explanation(whole.name, whole.normalized, whole.abstained, whole.reason, steps, whole.model_revision)


def explain(clf: Scorer, name: str, top_k: int = 3) -> Explanation:
    """The top-`top_k` labels after each prefix of `name` as `clf` reads it, as
    `Classifier.predict` gives them (`Explanation`)."""
    steps = explaining(name)
    names = next(steps)
    while True:
        try:
            names = steps.send(clf.predict(names, top_k=top_k))
        except StopIteration as done:
            return done.value


def format_table(explanations: list[Explanation]) -> str:
    """A terminal table per name: one row per prefix, then its top labels with probabilities."""
    blocks = []
    for e in explanations:
        if not e.steps:
            blocks.append(f"{e.name}\t(abstained: {e.reason})")
            continue
        head = e.name if e.normalized == e.name else f"{e.name} (read as {e.normalized})"
        if e.abstained:
            head += f"  (abstained: {e.reason})"
        width = max(len("prefix"), *(len(s.prefix) for s in e.steps))
        labels = max((len(p.label) for s in e.steps for p in s.predictions), default=0)
        lines = [head, f"  {'prefix':<{width}}  top labels"]
        for s in e.steps:
            cells = "   ".join(f"{p.label:<{labels}} {p.probability:.3f}" for p in s.predictions)
            lines.append(f"  {s.prefix:<{width}}  {cells or '(nothing to read yet)'}".rstrip())
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def check_plot_path(path: str | os.PathLike) -> None:
    """Refuse, before any work, a plot path that is not a .png in an existing folder, or a
    plot without matplotlib."""
    _figure()
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise NameOriginError(f"{path}: --plot writes a PNG; give a file name ending in .png")
    if not path.parent.is_dir():
        raise NameOriginError(f"{path}: the folder {path.parent} does not exist")
    output_target(path)


def _figure() -> type:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise NameOriginError("--plot needs matplotlib: pip install 'nameorigin[plot]'") from None
    return Figure


def _grid(explanation: Explanation, labels: list[str]) -> np.ndarray:
    """(steps, labels) probabilities; labels a step does not list (below its top-k) are 0."""
    column = {label: j for j, label in enumerate(labels)}
    grid = np.zeros((len(explanation.steps), len(labels)))
    for i, step in enumerate(explanation.steps):
        for p in step.predictions:
            grid[i, column[p.label]] = p.probability
    return grid


def _added(explanation: Explanation) -> list[str]:
    """Each step's tick label: what it adds to the text read (a letter; for a name typed in
    another script, a character's transliteration), then the prefix read so far."""
    prefixes = [step.prefix for step in explanation.steps]
    added, before = [], ""
    for prefix in prefixes:
        added.append(prefix[len(before):].strip() if prefix.startswith(before) else prefix)
        before = prefix
    a, p = max(map(len, added)), max(map(len, prefixes))
    return [f"{x:<{a}}  {prefix:<{p}}" for x, prefix in zip(added, prefixes)]


def _drawable(text: str) -> bool:
    """Whether matplotlib's default font has a glyph for every character of `text`."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    font = FT2Font(font_manager.findfont(font_manager.FontProperties()))
    return all(font.get_char_index(ord(c)) for c in text if not c.isspace())


def _panel(ax, explanation: Explanation, labels: list[str], last: bool):
    grid = _grid(explanation, labels)
    image = ax.imshow(grid, cmap="viridis", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    ax.set_yticks(range(len(grid)), _added(explanation), fontfamily="monospace", fontsize=11)
    ax.set_ylabel("character added, prefix read")
    ax.set_xticks(range(len(labels)), labels if last else [], rotation=45, ha="right",
                  rotation_mode="anchor", fontsize=9)
    ax.set_xticks(np.arange(-0.5, len(labels)), minor=True)
    ax.set_yticks(np.arange(-0.5, len(grid)), minor=True)
    ax.grid(which="minor", color="white", linewidth=0.8)
    ax.tick_params(which="minor", length=0)
    for (i, j), v in np.ndenumerate(grid):
        if v >= 0.05:
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                    color="black" if v > 0.6 else "white")
    final = explanation.steps[-1].predictions
    name, normalized = explanation.name, explanation.normalized
    if not _drawable(name):  # a script the font lacks would be drawn as empty boxes
        shown = f"a name in {display(script_of(compatible(name)) or 'another')} script, read as {normalized!r}"
    else:
        shown = repr(name) + ("" if normalized == name else f", read as {normalized!r}")
    answer = f"{final[0].label} {final[0].probability:.2f}" if final else "no answer"
    ax.set_title(f"{shown}: {answer}\n"
                 "the probability of each label after each character", fontsize=11)
    return image


def plot(explanations: list[Explanation], labels: list[str], path: str | os.PathLike) -> Path:
    """A heatmap per name, characters (top to bottom, in reading order) by labels, written
    atomically to `path` as PNG. `explanations` should list every label (``top_k=len(labels)``)."""
    Figure = _figure()
    panels = [e for e in explanations if e.steps]
    if not panels:
        raise NameOriginError("nothing to plot: the model abstained on every name")
    rows = sum(len(e.steps) for e in panels)
    if rows > MAX_PLOT_ROWS:
        raise NameOriginError(f"the names have {rows} characters in all; --plot draws at most {MAX_PLOT_ROWS}")
    fig = Figure(figsize=(0.55 * len(labels) + 2.5, 0.42 * rows + 1.0 * len(panels) + 1.3), dpi=DPI,
                 layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False,
                        gridspec_kw={"height_ratios": [len(e.steps) for e in panels]})[:, 0]
    for k, (ax, e) in enumerate(zip(axes, panels)):
        image = _panel(ax, e, labels, last=k == len(panels) - 1)
    fig.colorbar(image, ax=list(axes), label="probability", aspect=max(10, 4 * rows))
    return _save(fig, Path(path))


def _save(fig, path: Path) -> Path:
    """Render the PNG in memory, then write it with `files.atomic_write`: an interrupted or failed
    write leaves the old file, never half a PNG."""
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=DPI, facecolor="white")
    with atomic_write(path, "wb") as out:
        out.write(png.getvalue())
    return path
