"""The `world` model's data and run: Wikipedia's people beside the tutorial's training names.

Each epoch every training person is seen once, in one form of their name drawn at random (the
full name as written, the family name alone, the given names alone, or the two in the other
order), and every tutorial training name `config.tutorial_repeat` times: the tutorial corpus is
the only source of Polish and Scottish names, and of Spain's Spanish ones.

Nothing of the test parts is seen in training: the Wikipedia split is by family name, and tutorial
training names that are a held-out family name are left out too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from .calibration import ece_temperature
from .config import Config
from .data import Corpus, Split, load_corpus, split_corpus
from .names import fold_case
from .ngrams import round_like_storage
from .logits import predict_logits
from .members import fit_members
from .train import Log, Sampler, stderr_log
from .wiki import FORMS, People, held_out_surnames, load_people, split_people

FORM_WEIGHTS = {"full": 0.45, "surname": 0.3, "given": 0.1, "swapped": 0.15}  # surname: config.surname_share's default
WIKI_ENV = "NAMEORIGIN_WIKI"


@dataclass
class WorldData:
    """Both corpora, their splits, and the label set the world model answers with (the
    tutorial's 18 and Other)."""

    people: People
    wiki_split: Split
    tutorial: Corpus
    tutorial_split: Split
    labels: list[str]
    case: str

    @classmethod
    def build(cls, config: Config, tutorial: Corpus, people: People) -> "WorldData":
        wiki_split = split_people(people, config.seed, config.test_size, config.val_size)
        tutorial_split = split_corpus(tutorial, config.split, config.seed, config.test_size, 0.0)
        labels = sorted(set(tutorial.label_names) | set(people.label_names))
        return cls(people, wiki_split, tutorial, tutorial_split, labels, config.case)

    def _ids(self, label_names: list[str], labels: np.ndarray) -> np.ndarray:
        index = np.asarray([self.labels.index(name) for name in label_names], dtype=np.int64)
        return index[labels]

    def wiki(self, form: str, rows: np.ndarray) -> tuple[list[str], np.ndarray]:
        names = [fold_case(n, self.case) for n in self.people.form(form, rows)]
        return names, self._ids(self.people.label_names, self.people.labels[rows])

    def tutorial_part(self, rows: np.ndarray) -> tuple[list[str], np.ndarray]:
        names, labels = self.tutorial.subset(rows)
        return [fold_case(n, self.case) for n in names], self._ids(self.tutorial.label_names, labels)

    def tutorial_train(self) -> tuple[list[str], np.ndarray]:
        """The tutorial's training names, less any that is a held-out Wikipedia family name."""
        held = held_out_surnames(self.people, self.wiki_split)
        rows = np.asarray([i for i in self.tutorial_split.train if self.tutorial.names[i].lower() not in held],
                          dtype=np.int64)
        return self.tutorial_part(rows)

    def sampler(self, repeat: int, surname_share: float = FORM_WEIGHTS["surname"]) -> Sampler:
        """Draws one epoch: each training person in one random form (the family name alone with
        probability `surname_share`, the others in `FORM_WEIGHTS`' proportions), the tutorial
        names `repeat` times."""
        rows = self.wiki_split.train
        forms = {form: [fold_case(n, self.case) for n in self.people.form(form, rows)] for form in FORMS}
        wiki_labels = self._ids(self.people.label_names, self.people.labels[rows])
        tutorial_names, tutorial_labels = self.tutorial_train()
        others = sum(w for form, w in FORM_WEIGHTS.items() if form != "surname")
        weights = np.asarray([surname_share if form == "surname" else FORM_WEIGHTS[form] * (1 - surname_share) / others
                              for form in FORMS])

        def draw(rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
            kinds = rng.choice(len(FORMS), size=len(rows), p=weights / weights.sum())
            columns = [forms[form] for form in FORMS]
            names = [columns[k][i] for i, k in enumerate(kinds.tolist())] + tutorial_names * repeat
            return names, np.concatenate([wiki_labels, np.tile(tutorial_labels, repeat)])

        return draw

    def validation(self) -> tuple[list[str], np.ndarray]:
        """Validation people as full names and as family names alone."""
        full, y_full = self.wiki("full", self.wiki_split.val)
        surname, y_surname = self.wiki("surname", self.wiki_split.val)
        return full + surname, np.concatenate([y_full, y_surname])

    def test_sets(self) -> dict[str, tuple[list[str], np.ndarray]]:
        return {"wiki_full": self.wiki("full", self.wiki_split.test),
                "wiki_surname": self.wiki("surname", self.wiki_split.test),
                "tutorial": self.tutorial_part(self.tutorial_split.test)}

    def describe(self) -> dict:
        return {"wiki": {"fingerprint": self.people.fingerprint, "n_people": len(self.people),
                         "split": self.wiki_split.describe()},
                "tutorial": {"fingerprint": self.tutorial.fingerprint, "n_names": len(self.tutorial),
                             "split": self.tutorial_split.describe()}}


def wiki_source(wiki: str | os.PathLike | None) -> str:
    from .errors import DataError

    path = wiki or os.environ.get(WIKI_ENV)
    if not path:
        raise DataError(f"the world model needs the Wikipedia corpus: pass --wiki PATH/names.tsv or set {WIKI_ENV}")
    return str(path)


def calibrate(model: torch.nn.Module, val: tuple[list[str], np.ndarray], log: Log) -> tuple[float, float]:
    """Softmax temperatures fitted on validation for the lowest ECE (`calibration.ece_temperature`
    says why not likelihood alone): one for names of several words and one for names of one word
    (`scoring.name_temperatures` says why); either part missing, one for all."""
    names, labels = val
    logits, labels = predict_logits(model, names), torch.as_tensor(labels)
    one = torch.tensor([" " not in n for n in names], dtype=torch.bool)
    if one.all() or not one.any():
        temperature = ece_temperature(logits, labels)
        log(f"calibrated on {len(names)} validation names: temperature {temperature:.3f}")
        return temperature, temperature
    several, single = ece_temperature(logits[~one], labels[~one]), ece_temperature(logits[one], labels[one])
    log(f"calibrated on {len(names)} validation names: temperature {several:.3f} for names of several "
        f"words, {single:.3f} for one word")
    return several, single


def load_world(config: Config, data: str | None, wiki: str | None, *, progress: bool = True) -> WorldData:
    return WorldData.build(config, load_corpus(data, progress=progress), load_people(wiki_source(wiki)))


def train_world(config: Config, data: str | None, wiki: str | None, *, device: str = "auto",
                progress: bool = True, log_every: int = 0, log: Log = stderr_log,
                run=None) -> tuple[torch.nn.Module, dict, WorldData]:
    """Train and calibrate the world model; returns the network, its checkpoint metadata so far
    (the test sets are scored by `evaluate.world_test_sets`) and the data."""
    world = load_world(config, data, wiki, progress=progress)
    log(f"wiki: {world.wiki_split.describe()}; tutorial: {world.tutorial_split.describe()}")
    val = world.validation()
    sampler = world.sampler(config.tutorial_repeat, config.surname_share)
    model, history = fit_members(config, sampler, val, n_labels=len(world.labels), device=device, progress=progress,
                                 log_every=log_every, log=log, options={} if run is None else run.fit_options())
    model = model.cpu()
    round_like_storage(model)
    temperature, one_word = calibrate(model, val, log) if config.calibrate else (1.0, None)
    return model, {
        "config": config.to_dict(), "labels": world.labels, "split": world.tutorial_split.describe(),
        "corpus": {"fingerprint": world.tutorial.fingerprint, "n_names": len(world.tutorial),
                   "n_skipped": len(world.tutorial.skipped)},
        "world": world.describe(), "temperature": temperature, "one_word_temperature": one_word,
        "logit_bias": None, "history": history.to_dict(),
    }, world
