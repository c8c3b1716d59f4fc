"""The `world` model's data: Wikipedia's people beside the tutorial's training names.

Each epoch every training person is seen once, in one form of their name drawn at random (the
full name as written, the family name alone, the given names alone, or the two in the other
order), and every tutorial training name `config.tutorial_repeat` times: the tutorial corpus is
the only source of Polish and Scottish names, and of Spain's Spanish ones.

Nothing of the test parts is seen in training: the Wikipedia split is by family name, and tutorial
training names that are a held-out family name are left out too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..config import Config
from ..errors import DataError, NameOriginError
from ..text.names import fold_case
from .corpus import Corpus, Sampler, Split, load_corpus, split_corpus
from .localedata import LOCALES_ENV, LocaleTable, read_table
from .wiki import FORMS, People, held_out_surnames, load_people, split_people

PART_SEEDS = {"val": 1, "test": 2}  # the locale lists' made-up full names, the same in every run
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
    locales: LocaleTable | None = None
    wiki_train_labels: np.ndarray | None = None  # the training people's labels, relabelled (`relabel`)
    relabelling: object | None = None
    held_out: frozenset[str] = frozenset()  # the Wikipedia validation and test family names, in small letters

    @classmethod
    def build(cls, config: Config, tutorial: Corpus, people: People,
              locales: LocaleTable | None = None) -> "WorldData":
        wiki_split = split_people(people, config.seed, config.test_size, config.val_size)
        tutorial_split = split_corpus(tutorial, config.split, config.seed, config.test_size, 0.0)
        labels = sorted(set(tutorial.label_names) | set(people.label_names) | set(locales.labels if locales else ()))
        world = cls(people, wiki_split, tutorial, tutorial_split, labels, config.case, locales)
        world.wiki_train_labels = world._ids(people.label_names, people.labels[wiki_split.train])
        world.held_out = frozenset(held_out_surnames(people, wiki_split))
        return world

    def relabel(self, seed: int) -> None:
        """Relabel the Wikipedia training people whose family name a teacher trained on the
        locale lists reads as another tradition (`relabel` says how)."""
        from .relabel import fit_teacher, pick_threshold, relabel

        table = self.locales
        family, val = table.rows("train", "family", exclude=self.held_out), table.rows("val", "family")
        tutorial_names, tutorial_labels = self.tutorial.subset(self.tutorial_split.train)
        teacher = fit_teacher([table.text[i] for i in family] + tutorial_names,
                              [table.labels[i] for i in family] + [self.tutorial.label_names[y] for y in tutorial_labels],
                              seed)
        threshold, precision = pick_threshold(teacher, [table.text[i] for i in val], [table.labels[i] for i in val])
        rows = self.wiki_split.train
        self.relabelling = relabel(self.people.form("surname", rows), self.people.form("full", rows),
                                   self.wiki_train_labels, self.labels, teacher, threshold, precision)
        self.wiki_train_labels = self.relabelling.labels

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

    def sampler(self, repeat: int, surname_share: float = FORM_WEIGHTS["surname"], locale_repeat: int = 0) -> Sampler:
        """Draws one epoch: each training person in one random form (the family name alone with
        probability `surname_share`, the others in `FORM_WEIGHTS`' proportions), the tutorial
        names `repeat` times, and with `locale_repeat` the locale lists (`locale_epoch`)."""
        rows = self.wiki_split.train
        forms = {form: [fold_case(n, self.case) for n in self.people.form(form, rows)] for form in FORMS}
        wiki_labels = self.wiki_train_labels
        tutorial_names, tutorial_labels = self.tutorial_train()
        others = sum(w for form, w in FORM_WEIGHTS.items() if form != "surname")
        weights = np.asarray([surname_share if form == "surname" else FORM_WEIGHTS[form] * (1 - surname_share) / others
                              for form in FORMS])

        def draw(rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
            kinds = rng.choice(len(FORMS), size=len(rows), p=weights / weights.sum())
            columns = [forms[form] for form in FORMS]
            names = [columns[k][i] for i, k in enumerate(kinds.tolist())] + tutorial_names * repeat
            labels = np.concatenate([wiki_labels, np.tile(tutorial_labels, repeat)])
            if locale_repeat and self.locales is not None:
                more, more_labels = self.locale_epoch(locale_repeat, rng)
                names, labels = names + more, np.concatenate([labels, more_labels])
            return names, labels

        return draw

    def locale_epoch(self, repeat: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
        """One epoch of the locale lists: each training family name `repeat` times alone and
        `repeat` times in a full name drawn anew, and each training given name once; less any
        name that is a held-out Wikipedia family name, as for the tutorial's names."""
        table, held = self.locales, self.held_out
        family, given = table.rows("train", "family", exclude=held), table.rows("train", "given", exclude=held)
        names = [table.text[i] for i in family] * repeat + [table.text[i] for i in given]
        labels = [table.labels[i] for i in family] * repeat + [table.labels[i] for i in given]
        for _ in range(repeat):
            full, full_labels = table.full_names("train", rng, exclude=held)
            names, labels = names + full, labels + full_labels
        return [fold_case(n, self.case) for n in names], self._label_ids(labels)

    def _label_ids(self, labels: list[str]) -> np.ndarray:
        index = {label: i for i, label in enumerate(self.labels)}
        return np.asarray([index[label] for label in labels], dtype=np.int64)

    def locale_part(self, part: str, kind: str) -> tuple[list[str], np.ndarray]:
        """A part of the locale lists as family names alone (`kind` "family") or as full names
        made with a fixed seed ("full")."""
        table = self.locales
        if kind == "full":
            names, labels = table.full_names(part, np.random.default_rng(PART_SEEDS[part]))
        else:
            rows = table.rows(part, kind)
            names, labels = [table.text[i] for i in rows], [table.labels[i] for i in rows]
        return [fold_case(n, self.case) for n in names], self._label_ids(labels)

    def validation(self) -> tuple[list[str], np.ndarray]:
        """Validation people as full names and as family names alone."""
        parts = [self.wiki("full", self.wiki_split.val), self.wiki("surname", self.wiki_split.val)]
        if self.locales is not None:
            parts += [p for p in (self.locale_part("val", "full"), self.locale_part("val", "family")) if p[0]]
        return [n for names, _ in parts for n in names], np.concatenate([labels for _, labels in parts])

    def test_sets(self) -> dict[str, tuple[list[str], np.ndarray]]:
        sets = {"wiki_full": self.wiki("full", self.wiki_split.test),
                "wiki_surname": self.wiki("surname", self.wiki_split.test),
                "tutorial": self.tutorial_part(self.tutorial_split.test)}
        if self.locales is not None:
            for name, kind in (("locale_full", "full"), ("locale_family", "family")):
                if (part := self.locale_part("test", kind))[0]:
                    sets[name] = part
        return sets

    def describe(self) -> dict:
        described = {"wiki": {"fingerprint": self.people.fingerprint, "n_people": len(self.people),
                              "split": self.wiki_split.describe()},
                     "tutorial": {"fingerprint": self.tutorial.fingerprint, "n_names": len(self.tutorial),
                                  "split": self.tutorial_split.describe()}}
        if self.locales is not None:
            described["locales"] = {"fingerprint": self.locales.fingerprint, "n_names": len(self.locales)}
        if self.relabelling is not None:
            r = self.relabelling
            described["relabelled"] = {"threshold": r.threshold, "teacher_precision": r.precision,
                                       "people": int(sum(r.changed.values())),
                                       "by_label": {f"{a} -> {b}": n for (a, b), n in r.changed.most_common()},
                                       "examples": [list(e) for e in r.examples]}
        return described


def wiki_source(wiki: str | os.PathLike | None) -> str:
    path = wiki or os.environ.get(WIKI_ENV)
    if not path:
        raise DataError(f"the world model needs the Wikipedia corpus: pass --wiki PATH/names.tsv or set {WIKI_ENV}")
    return str(path)


def locales_source(locales: str | os.PathLike | None) -> str | None:
    return str(locales) if locales else os.environ.get(LOCALES_ENV) or None


def load_world(config: Config, data: str | None, wiki: str | None, locales: str | None = None, *,
               progress: bool = True, training: bool = True) -> WorldData:
    """Both corpora, and the locale table when the config reads it (`Config.locale_repeat`);
    for `training`, the diaspora names relabelled as the config says."""
    table = None
    if config.locale_repeat:
        path = locales_source(locales)
        if path is None:
            raise DataError("this run reads the locale lists: pass --locales PATH/locales.tsv or set "
                            f"{LOCALES_ENV} (build it with: nameorigin data build-locales --out locales.tsv)")
        table = read_table(path)
    world = WorldData.build(config, load_corpus(data, progress=progress), load_people(wiki_source(wiki)), table)
    if config.relabel and training:
        world.relabel(config.seed)
    return world


def check_world_fingerprints(world: WorldData, recorded: Mapping) -> None:
    """Refuse corpora other than the ones a world checkpoint was trained on (`recorded`, its
    metadata's ``world``): its splits could not be rebuilt from them."""
    fingerprints = [("wiki", world.people.fingerprint), ("tutorial", world.tutorial.fingerprint)]
    if world.locales is not None:
        fingerprints.append(("locales", world.locales.fingerprint))
    for key, fingerprint in fingerprints:
        if recorded.get(key, {}).get("fingerprint") != fingerprint:
            raise NameOriginError(f"the {key} corpus given is not the one the model was trained on (its "
                                  "fingerprint differs), so its test split cannot be rebuilt")
