"""Pilot runs for the world model: a sample of training-side people, and its validation figures.

Trying a change on the whole corpus costs half an hour; on 120,000 people for 5 epochs, about
two minutes. `sample` writes such a names.tsv, drawn only from the training side of the full
corpus's split, so no pilot ever sees a validation or test family of the real run. With
``--labels nationality`` each person keeps their first nationality as the label (Mexican,
Argentine, ... instead of Spanish), to see whether the finer classes teach the network more;
the family-first traditions keep their label, so both files split the people the same way.
`score` prints a pilot's validation accuracy by form of the name, a nationality model's answers
summed into the 19 labels first. docs/design.md has the figures.

    python benchmarks/world_pilot.py sample --labels nationality --out /tmp/pilot.tsv
    nameorigin train --preset world --wiki /tmp/pilot.tsv --epochs 5 --skip-test --out /tmp/P
    python benchmarks/world_pilot.py score /tmp/P /tmp/pilot.tsv
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import torch

from nameorigin import checkpoint
from nameorigin.models.tensors import module_logits
from nameorigin.data.wiki import FAMILY_FIRST, FORMS, load_people, split_people
from nameorigin.data.wikibuild import read_mapping
from nameorigin.data.world import load_world

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def sample(wiki: Path, out: Path, n: int, labels: str, seed: int) -> None:
    people = load_people(wiki)
    train = split_people(people).train
    with open(wiki, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    if len(rows) != len(people):
        raise SystemExit(f"{wiki}: {len(rows)} rows but {len(people)} people; sample needs a file of usable names")
    picked = np.sort(np.random.default_rng(seed).choice(train, min(n, len(train)), replace=False))
    with open(out, "w", encoding="utf-8", newline="") as handle:
        handle.write("name\tlabel\tnationality\n")
        for i in picked:
            name, label, nationality = rows[i][:3]
            fine = labels == "nationality" and label not in FAMILY_FIRST
            handle.write(f"{name}\t{nationality.split('|')[0] if fine else label}\t{nationality}\n")
    print(f"{len(picked):,} training-side people -> {out}")


def score(folder: Path, wiki: Path, data: Path) -> None:
    model, meta = checkpoint.load(folder)
    world = load_world(meta.config, str(data), str(wiki), progress=False)
    mapping = read_mapping()
    coarse = [mapping.get(label, label) for label in meta.labels]
    answers = sorted(set(coarse))
    group = torch.tensor([answers.index(c) for c in coarse])
    right = {}
    for form in FORMS:
        names, labels = world.wiki(form, world.wiki_split.val)
        logits = module_logits(model, names)
        summed = torch.stack([logits[:, group == j].logsumexp(1) for j in range(len(answers))], dim=1)
        right[form] = (summed.argmax(1) == group[torch.from_numpy(labels)]).numpy()
        print(f"{form:8s} {right[form].mean():.2%}")
    print(f"full and family {np.concatenate([right['full'], right['surname']]).mean():.2%} "
          f"({len(world.wiki_split.val):,} validation people, {len(meta.labels)} labels summed into {len(answers)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("sample", help="write a pilot names.tsv of training-side people")
    make.add_argument("--wiki", type=Path, default=SHARED / "wiki" / "names.tsv")
    make.add_argument("--out", type=Path, required=True)
    make.add_argument("-n", type=int, default=120_000)
    make.add_argument("--labels", choices=("label", "nationality"), default="label")
    make.add_argument("--seed", type=int, default=7)
    read = commands.add_parser("score", help="a pilot checkpoint's validation accuracy by form")
    read.add_argument("checkpoint", type=Path)
    read.add_argument("wiki", type=Path, help="the pilot's names.tsv")
    read.add_argument("--data", type=Path, default=SHARED / "names")
    args = parser.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    if args.command == "sample":
        sample(args.wiki, args.out, args.n, args.labels, args.seed)
    else:
        score(args.checkpoint, args.wiki, args.data)


if __name__ == "__main__":
    main()
