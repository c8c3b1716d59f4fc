"""Real-name check: the bundled `tutorial` and `world` models on names from Faker's per-locale lists.

Faker's lists are used here for checking only, never for training. Each locale stands for the
label its names should get: one of the 18 languages, or Other for a tradition outside them. For
each, the script draws surnames and full names (seeded), predicts with both models and prints
top-1 accuracy side by side as a Markdown table (the tutorial model has no Other label, so it
scores 0 on those locales by construction; its abstentions are counted as wrong).

    pip install -e '.[bench]'      # faker
    python benchmarks/realnames.py [--n 300] [--seed 0]
"""

from __future__ import annotations

import argparse

import numpy as np

from nameorigin import load_model

LOCALES = {
    "ru_RU": "Russian", "ja_JP": "Japanese", "zh_CN": "Chinese", "ko_KR": "Korean", "vi_VN": "Vietnamese",
    "de_DE": "German", "fr_FR": "French", "it_IT": "Italian", "es_ES": "Spanish", "pt_PT": "Portuguese",
    "nl_NL": "Dutch", "el_GR": "Greek", "cs_CZ": "Czech", "pl_PL": "Polish", "ga_IE": "Irish",
    "en_GB": "English", "ar_AA": "Arabic",
    "tr_TR": "Other", "fi_FI": "Other", "hu_HU": "Other", "hi_IN": "Other", "yo_NG": "Other", "th_TH": "Other",
    "sv_SE": "Other", "no_NO": "Other", "ro_RO": "Other", "lt_LT": "Other", "et_EE": "Other", "ka_GE": "Other",
    "hy_AM": "Other", "id_ID": "Other", "ta_IN": "Other", "zu_ZA": "Other",
}
ROMANIZED = {"ja_JP", "zh_CN"}
FAMILY_FIRST = {"zh_CN", "ko_KR", "vi_VN"}


def draw(locale: str, n: int, seed: int) -> tuple[list[str], list[str]]:
    """`n` surnames and `n` full names of `locale` (romanized for Chinese and Japanese, family
    name first where Wikipedia writes it so)."""
    from faker import Faker

    fake = Faker(locale)
    own = [p for p in fake.providers if type(p).__module__ == f"faker.providers.person.{locale}"]
    if not own:  # Faker falls back to en_US names for a locale without a list of its own (sq_AL, am_ET)
        raise SystemExit(f"{locale}: Faker has no name list of its own for this locale")
    fake.seed_instance(seed)
    last = fake.last_romanized_name if locale in ROMANIZED else fake.last_name
    first = fake.first_romanized_name if locale in ROMANIZED else fake.first_name
    surnames = [last() for _ in range(n)]
    pairs = [(first(), last()) for _ in range(n)]
    full = [f"{f_} {g}" if locale not in FAMILY_FIRST else f"{g} {f_}" for g, f_ in pairs]
    return surnames, full


def accuracy(clf, names: list[str], label: str) -> float:
    return float(np.mean([r.label == label for r in clf.predict(names, top_k=1)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300, help="names of each kind per locale")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    models = {"tutorial": load_model("tutorial"), "world": load_model("world")}
    print("| locale | label | tutorial surname | tutorial full | world surname | world full |")
    print("| --- | --- | --- | --- | --- | --- |")
    totals: dict[bool, list[list[float]]] = {False: [], True: []}
    for locale, label in LOCALES.items():
        surnames, full = draw(locale, args.n, args.seed)
        row = [accuracy(clf, names, label) for clf in models.values() for names in (surnames, full)]
        totals[label == "Other"].append(row)
        print(f"| {locale} | {label} | " + " | ".join(f"{x:.1%}" for x in row) + " |")
    for other, rows in totals.items():
        mean = np.mean(rows, axis=0)
        print(f"| mean of {len(rows)} | {'Other' if other else 'the 18'} | " + " | ".join(f"{x:.1%}" for x in mean) + " |")


if __name__ == "__main__":
    main()
