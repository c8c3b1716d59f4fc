"""Predictions for raw names, with probabilities and an explicit abstention when a name can't be read.

`Classifier` wraps a trained network in the scikit-learn shape: ``labels``, ``predict`` and
``predict_proba``. Batching, padding and normalization happen inside. The network is the numpy
runtime's (`nameorigin.runtime`) unless PyTorch or onnxruntime is asked for (`load_model`), so
prediction needs neither.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .. import checkpoint, runtime
from ..checkpoint.bundled import model_path
from ..checkpoint.metadata import ModelMeta
from ..runtime.batches import network_logits
from ..text.readings import Prepared, prepare
from ..text.scripts import allowed_labels, display, transliteration_trust
from ..threads import prediction_threads
from .answers import AnswerOptions, Answers, answer
from .explain import Explanation
from .explain import explain as explain_name
from .records import Columns, Prediction, rank
from .scoring import Calibration

BACKENDS = ("numpy", "torch", "onnx")
# Distinct names whose answers a classifier remembers: a few MB, and the names a file repeats.
MEMO_SIZE = 1 << 16


class Classifier:
    """A trained name-origin model; build it with `load_model` or `Classifier.from_checkpoint`."""

    def __init__(self, network: runtime.Network, metadata: ModelMeta, revision: str = "", budget: int = 1 << 12,
                 threads: int | None = None):
        self.network = network
        self.metadata = metadata
        self.labels: list[str] = list(metadata.labels)
        self.revision = revision
        self.calibration = Calibration.from_metadata(metadata)
        self.case = metadata.config.case
        self.budget = budget
        self.threads = threads
        self._memo: dict[str, tuple[Prepared, np.ndarray]] = {}

    @classmethod
    def from_checkpoint(cls, folder: str | os.PathLike, threads: int | None = None) -> "Classifier":
        """The checkpoint in `folder` on the numpy runtime; `threads` as `load_model` takes it."""
        state, meta = checkpoint.read(folder)
        files = {name: (Path(folder) / name).read_bytes() for name in (checkpoint.WEIGHTS, checkpoint.METADATA)}
        clf = cls(runtime.build(meta.config, state, len(meta.labels)), meta, checkpoint.revision_of(files),
                  threads=threads)
        clf._files = files
        return clf

    def __reduce__(self):
        """Pickle as the checkpoint's two files (a few hundred KB), not the live network, so a
        Classifier travels cheaply to Dask or Spark workers; each process rebuilds it once."""
        files = getattr(self, "_files", None)
        if files is None:
            raise TypeError("only a Classifier loaded from a checkpoint folder can be pickled")
        return (_restore, (files, self.revision))

    def logits(self, names: list[str]) -> np.ndarray:
        """The network's logits (names, labels) for prepared names (`text.readings.prepare`),
        before calibration."""
        threads = self.threads if self.threads is not None else prediction_threads()
        return network_logits(self.network, names, self.budget, threads)

    def _proba(self, names: list[str], allowed: np.ndarray | None = None) -> np.ndarray:
        """Calibrated class probabilities for prepared names; `allowed` masks labels per row."""
        return self.calibration.proba(self.logits(names), names, allowed)

    def _script_mask(self, prepared: list[Prepared]) -> tuple[np.ndarray | None, list[Prepared]]:
        """The labels each name's script allows, and the names whose script allows none of this
        model's labels turned into abstentions."""
        mask, out = None, list(prepared)
        for i, p in enumerate(prepared):
            allowed = allowed_labels(p.script) if p.reason is None else None
            if allowed is None:
                continue
            row = np.isin(self.labels, allowed)
            if not row.any():
                out[i] = Prepared(p.text, f"written in {display(p.script)} script, a tradition outside this "
                                          "model's labels", p.script)
                continue
            if mask is None:
                mask = np.ones((len(prepared), len(self.labels)), dtype=bool)
            mask[i] = row
        return mask, out

    def _proba_once(self, prepared: list[Prepared], mask: np.ndarray | None) -> np.ndarray:
        """`_proba` for readable names, each distinct (text, script) scored once: names that
        read the same (SMITH, Smith) get one answer, bit for bit.

        A name in Han characters is scored on its Japanese reading, between the Chinese and
        Japanese hypotheses its script allows: a Mandarin reading reads as Chinese whatever the
        name (田中, Tanaka, is "Tian Zhong"), while a Japanese reading reads as Japanese only for
        a Japanese name (王伟 is "O Wei"). `Prepared.text` is then the winning hypothesis's reading."""
        keys: dict[tuple, int] = {}
        first, back = [], []
        for i, p in enumerate(prepared):
            key = (p.japanese or p.text, p.script)
            if key not in keys:
                keys[key] = len(first)
                first.append(i)
            back.append(keys[key])
        texts = [prepared[i].japanese or prepared[i].text for i in first]
        proba = self._proba(texts, None if mask is None else mask[first])[back]
        for i, p in enumerate(prepared):
            trust = transliteration_trust(p.script)
            if trust < 1:
                proba[i] = trust * proba[i] + (1 - trust) * mask[i] / mask[i].sum()
        return proba

    @staticmethod
    def _as_list(names: Iterable[str]) -> list:
        """Any iterable of names as a list read by position: a pandas Series indexes by label, so
        ``names[i]`` on a filtered one found another row's name, or none."""
        if isinstance(names, (str, bytes)):
            raise TypeError("pass a list of names; wrap a single name in a list")
        return names if type(names) is list else list(names)

    def _score(self, names: list) -> tuple[list[Prepared], np.ndarray]:
        """Prepared forms and probabilities, one row per name. Each distinct name is prepared and
        scored once, and remembered (up to `MEMO_SIZE` names) for later calls: real name lists
        repeat themselves (a few thousand surnames cover most people), also across the chunks of
        a file."""
        slots: dict = {}
        inverse = np.fromiter((slots.setdefault(n if type(n) is str else (None, i), len(slots))
                               for i, n in enumerate(names)), dtype=np.int64, count=len(names))
        memo = self._memo
        known = [memo.get(key) if type(key) is str else None for key in slots]
        new = [i for i, hit in enumerate(known) if hit is None]
        if new:
            keys = list(slots)
            fresh = self._score_distinct([keys[i] if type(keys[i]) is str else names[keys[i][1]] for i in new])
            if len(memo) + len(new) > MEMO_SIZE:
                memo.clear()
            for i, hit in zip(new, fresh):
                known[i] = hit
                if type(keys[i]) is str:
                    memo[keys[i]] = hit
        prepared = [hit[0] for hit in known]
        proba = np.stack([hit[1] for hit in known]) if known else np.zeros((0, len(self.labels)), np.float32)
        return [prepared[i] for i in inverse], proba[inverse]

    def _score_distinct(self, distinct: list) -> list[tuple[Prepared, np.ndarray]]:
        """(prepared form, probabilities) of each of `distinct` names; NaN for those that can't be read."""
        mask, prepared = self._script_mask([prepare(n, self.case) for n in distinct])
        ok = [i for i, p in enumerate(prepared) if p.reason is None]
        proba = np.full((len(distinct), len(self.labels)), np.nan, dtype=np.float32)
        if ok:
            proba[ok] = self._proba_once([prepared[i] for i in ok], None if mask is None else mask[ok])
        proba.flags.writeable = False
        return [(self._reading(p, row), row) for p, row in zip(prepared, proba)]

    def _reading(self, p: Prepared, row: np.ndarray) -> Prepared:
        """A Han name shown in the reading of the answer: Japanese if that is the answer."""
        if p.japanese is None or "Japanese" not in self.labels or "Chinese" not in self.labels:
            return p
        japanese = row[self.labels.index("Japanese")] > row[self.labels.index("Chinese")]
        return p._replace(text=p.japanese) if japanese else p

    def predict_proba(self, names: Iterable[str], *, level: str = "label", prior=None) -> np.ndarray:
        """(n_names, n_labels) probabilities; rows of names that can't be scored are NaN. With
        ``level="group"`` the columns are `labels_at` ("group")'s; a `prior` is applied as in `predict`."""
        return self._answers(self._score(self._as_list(names)), AnswerOptions(level, None, prior)).proba

    def labels_at(self, level: str = "label") -> list[str]:
        """The labels answers at `level` ("label" or "group", `nameorigin.inference.groups`) are over."""
        return self.check_answers(level)

    def check_answers(self, level: str = "label", coverage: float | None = None, prior=None,
                      randomized: bool = False) -> list[str]:
        """Raise what `predict` would for these options (a bad level, coverage or prior, or a model
        without what they need), before any name is scored; returns the labels answered with."""
        empty = ([], np.zeros((0, len(self.labels)), np.float32))
        return self._answers(empty, AnswerOptions(level, coverage, prior, randomized)).labels

    def estimate_prior(self, names: Iterable[str]) -> dict[str, float]:
        """The label mix of `names` as EM estimates it from the model's answers (`nameorigin.inference.priors`)."""
        return self._answers(self._score(self._as_list(names)), AnswerOptions(prior="auto")).mix

    def _answers(self, scored: tuple[list[Prepared], np.ndarray], options: AnswerOptions) -> Answers:
        """`scored`'s probabilities as `options` ask (`nameorigin.inference.answers`)."""
        options = options.checked()
        prepared, proba = scored
        if options.plain:
            return Answers(self.labels, proba)
        one_word = np.fromiter((" " not in p.text for p in prepared), dtype=bool, count=len(prepared))
        texts = [p.text for p in prepared] if options.randomized else ()
        return answer(proba, self.labels, self.metadata, options, one_word, texts)

    def predict(self, names: Iterable[str], top_k: int = 3, min_confidence: float = 0.0, *, level: str = "label",
                coverage: float | None = None, prior=None, randomized: bool = False) -> list[Prediction]:
        """The top-k labels with probabilities for each name, or an abstention with its reason.

        A name is abstained on when nothing readable is left of it, or when its top probability
        is below `min_confidence` (0 to 1); in the latter case its top-k are still reported.
        A `top_k` above the number of labels gives them all. ``level="group"`` answers with coarse
        groups (`nameorigin.inference.groups`); `coverage` (0 to 1) adds each name's ``prediction_set``
        (`nameorigin.conformal`), whose coverage with ``randomized=True`` is the level itself, not
        above it (a set may then be empty); `prior` re-weights to a population's label mix, a mapping of
        label to share, or "auto" to estimate it from `names` (`nameorigin.inference.priors`).
        """
        names = self._as_list(names)
        return self.predict_columns(names, top_k, min_confidence, level=level, coverage=coverage,
                                    prior=prior, randomized=randomized).records(names, self.revision)

    def predict_columns(self, names: Iterable[str], top_k: int = 3, min_confidence: float = 0.0, *,
                        level: str = "label", coverage: float | None = None, prior=None,
                        randomized: bool = False) -> Columns:
        """`predict`'s answers as arrays, one row per name (`records.Columns`): what the file mode
        writes, with no object per name."""
        if not (isinstance(top_k, (int, np.integer)) and top_k >= 1):
            raise ValueError(f"top_k must be an integer of at least 1, not {top_k!r}")
        if not 0 <= min_confidence <= 1:
            raise ValueError(f"min_confidence must be from 0 to 1, not {min_confidence!r}")
        prepared, proba = self._score(self._as_list(names))
        ans = self._answers((prepared, proba), AnswerOptions(level, coverage, prior, randomized))
        return rank(ans.proba, ans.labels, [p.text for p in prepared], [p.reason for p in prepared], int(top_k),
                    min_confidence, ans.sets)

    def predict_frame(self, frame, column: str = "name", top_k: int = 3, min_confidence: float = 0.0):
        """A copy of a pandas DataFrame with the prediction columns added: ``predicted_label``,
        ``probability``, ``abstained``, ``reason``, ``normalized``. If the frame already has one
        of those names, all of them are prefixed with ``predicted_``, as in file mode, so none of
        the caller's columns is overwritten. (Pandas is optional: only this method needs it.)"""
        if column not in frame.columns:
            raise KeyError(f"no column {column!r}; the frame has {list(frame.columns)}")
        fields = ("label", "probability", "abstained", "reason", "normalized")
        names = {field: "predicted_label" if field == "label" else field for field in fields}
        if set(names.values()) & set(frame.columns):
            names = {field: f"predicted_{field}" for field in fields}
            clash = [c for c in frame.columns if c in names.values()]
            if clash:
                raise ValueError(f"column {clash[0]!r} is also a result column; rename it")
        results = self.predict(frame[column].tolist(), top_k=top_k, min_confidence=min_confidence)
        out = frame.copy()
        for field, name in names.items():
            out[name] = [getattr(r, field) for r in results]
        return out

    def explain(self, name: str, top_k: int = 3) -> Explanation:
        """The top-k labels after each prefix of `name` as the model reads it, to show how the
        prediction forms (`nameorigin.inference.explain.Explanation`)."""
        return explain_name(self, name, top_k)


_RESTORED: dict[str, Classifier] = {}


def _restore(files: dict[str, bytes], revision: str) -> Classifier:
    """A pickled Classifier, rebuilt once per process from its checkpoint files."""
    if revision not in _RESTORED:
        with tempfile.TemporaryDirectory(prefix="nameorigin-") as folder:
            for name, data in files.items():
                (Path(folder) / name).write_bytes(data)
            clf = Classifier.from_checkpoint(folder)
        if clf.revision != revision:
            raise checkpoint.CheckpointError("a pickled Classifier's files do not match its revision")
        _RESTORED[revision] = clf
    return _RESTORED[revision]


def load_model(path: str | os.PathLike | None = None, backend: str = "numpy", threads: int | None = None) -> Classifier:
    """Load a checkpoint as a `Classifier`: a folder, the name of a bundled model ("world",
    "tutorial"), or nothing for the default `world` model.

    The network runs on numpy (``backend="numpy"``). ``"torch"`` runs the PyTorch network, on a
    GPU when there is one (``pip install 'nameorigin[train]'``); ``"onnx"`` runs it in
    onnxruntime (exported in memory; a ``.onnx`` file written by ``nameorigin export`` is accepted
    too), for deployments built on onnxruntime. `threads`: how many threads a batch of names is
    shared out to (default: the CPUs this process may use, at most 8; one in a forked child).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if threads is not None and not (isinstance(threads, (int, np.integer)) and threads >= 1):
        raise ValueError(f"threads must be an integer of at least 1, not {threads!r}")
    path = model_path(path)
    if backend == "numpy":
        return Classifier.from_checkpoint(path, threads)
    # Looked up by name: each backend builds on this module, and needs an optional extra that
    # importing predict must neither need nor pay for.
    if backend == "onnx":
        return importlib.import_module(f"{__package__}.onnx").load_onnx_classifier(path, threads)
    return importlib.import_module(f"{__package__}.pytorch").load_torch_classifier(path, threads)
