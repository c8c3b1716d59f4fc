"""Every knob of a training run, in one dataclass, and the named presets built from it.

A `Config` is saved inside each checkpoint, so a model can always be rebuilt and its run repeated.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

ARCHS = ("rnn", "gru", "lstm", "gru-cell", "lstm-cell")
SCHEDULES = ("constant", "onecycle")
SPLITS = ("seed", "dedup")
PRECISIONS = ("fp32", "bf16")
MAX_SEED = 2**32 - 1  # NumPy's seeds are 0 to 2**32 - 1


@dataclass(frozen=True)
class Config:
    # model (see models.py)
    arch: str = "gru"  # "rnn" (the reference's cell), "gru", "lstm", or hand-written "gru-cell", "lstm-cell"
    hidden_size: int = 256
    num_layers: int = 2  # ignored by "rnn", a single cell as in the reference
    embedding_dim: int = 0  # 0: one-hot characters, as the reference; else a learned embedding
    bidirectional: bool = False
    dropout: float = 0.0
    head_size: int = 0  # 0: a linear head; else a hidden ReLU layer of this width before it
    ngram_dim: int = 0  # 0: none; else the head also sees a bag of hashed character n-grams of this size
    ngram_buckets: int = 32768  # with ngram_dim: how many hashed n-gram vectors there are
    ngram_drop: float = 0.0  # with ngram_dim: share of a name's n-grams left out at each training step
    ngram_max: int = 4  # with ngram_dim: the bag holds 2- to ngram_max-grams
    ngram_words: bool = False  # with ngram_dim: each word is marked at its ends, not only the whole name
    ensemble: int = 1  # members trained with seeds seed, seed+1, ...; their probabilities are averaged
    # optimisation
    epochs: int = 2
    batch_size: int = 96
    lr: float = 2e-2  # Adam(W)'s learning rate; the peak of the one-cycle schedule
    schedule: str = "onecycle"  # "constant" (the reference) or "onecycle": warm up to lr, then anneal
    weight_decay: float = 0.0
    clip: float = 1.0  # max gradient norm; 0 turns clipping off
    label_smoothing: float = 0.0
    class_weight: float = 0.0  # loss weight of a class ~ (its share)^-class_weight: 0 none, 1 balanced
    # data and selection
    seed: int = 42
    split: str = "seed"  # "seed" (the reference's split) or "dedup" (no name on both sides)
    test_size: float = 0.1
    val_size: float = 0.0  # share of the training split held out for early stopping and calibration
    patience: int = 0  # stop after this many epochs without a better validation macro-F1 (0: never)
    calibrate: bool = False  # fit a softmax temperature on the validation split
    tune_bias: bool = False  # shift logits by -t*log(class share), t chosen for validation macro-F1
    # what the model reads
    case: str = "words"  # "words": SMITH, smith -> Smith (the tutorial's spelling); "lower": all small letters
    corpus: str = "tutorial"  # "tutorial": the 18-language surnames; "world": plus Wikipedia's people, and Other
    tutorial_repeat: int = 1  # with corpus "world": times each tutorial training name is seen per epoch
    surname_share: float = 0.3  # with corpus "world": share of people read by their family name alone
    locale_repeat: int = 0  # with corpus "world": times each locale-list family name is seen per epoch (0: no lists)
    relabel: bool = False  # with locale lists: relabel Wikipedia's diaspora names by a teacher (see relabel.py)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Config":
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown config fields: {sorted(unknown)}")
        return cls(**values)

    def updated(self, **overrides) -> "Config":
        """A copy with every override that is not None applied."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def validate(self) -> "Config":
        """Refuse, before any data is read, a config that no run could train; returns it unchanged.

        Every check of a whole config lives here, so a preset with flags on top is judged once and
        the same way; each message names the flag to change. Single values out of range (an
        --epochs of 0) are refused earlier, by the flags' own types (`argtypes`).
        """
        sizes = [(lo <= getattr(self, key) <= hi, f"--{key.replace('_', '-')} must be from {lo} to {hi}, not "
                                                      f"{getattr(self, key)}") for key, (lo, hi) in SIZE_LIMITS.items()]
        checks = sizes + [
            (1 <= self.epochs <= 100_000, f"--epochs must be from 1 to 100000, not {self.epochs}"),
            (1 <= self.batch_size <= 1_000_000, f"--batch-size must be from 1 to 1000000, not {self.batch_size}"),
            (self.arch in ARCHS, f"--arch must be one of {', '.join(ARCHS)}, not {self.arch!r}"),
            (self.schedule in SCHEDULES, f"--schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}"),
            (self.split in SPLITS, f"--split must be one of {', '.join(SPLITS)}, not {self.split!r}"),
            (self.seed + self.ensemble - 1 <= MAX_SEED,
             f"--seed plus --ensemble minus 1 must be at most 2**32 - 1 ({MAX_SEED}): member k trains with seed + k"),
            (0 <= self.surname_share <= 1, f"--surname-share must be from 0 to 1, not {self.surname_share}"),
            (1 <= self.tutorial_repeat <= 100, f"--tutorial-repeat must be from 1 to 100, not {self.tutorial_repeat}"),
            (0 <= self.locale_repeat <= 100, f"--locale-repeat must be from 0 to 100, not {self.locale_repeat}"),
            (self.locale_repeat > 0 or not self.relabel, "--relabel needs the locale lists: set --locale-repeat above 0"),
            (self.val_size > 0 or not (self.calibrate or self.tune_bias or self.patience),
             "early stopping, --calibrate and --tune-bias need a validation split: set --val-size above 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self


# Sizes a network may have: past these it would not fit in memory (a checkpoint with others is refused).
SIZE_LIMITS = {"hidden_size": (1, 4096), "num_layers": (1, 8), "embedding_dim": (0, 4096), "head_size": (0, 4096),
               "ngram_dim": (0, 4096), "ngram_buckets": (2, 2**24), "ngram_max": (2, 8),
               "ensemble": (1, 16)}

# Batch size and peak learning rate per architecture that reach the reference's accuracy within
# the reference's 2 epochs in far fewer steps (see benchmarks/train_speed.py).
FAST = {
    "rnn": Config(arch="rnn", batch_size=64, lr=8e-2),
    "gru": Config(arch="gru", batch_size=96, lr=2e-2),
}

PRESETS: dict[str, tuple[Config, str]] = {
    "reference-rnn": (
        Config(arch="rnn", hidden_size=256, epochs=2, batch_size=1, lr=1e-3, schedule="constant"),
        "the tutorial's hand-written RNN and loop: one name per step, Adam 1e-3, 2 epochs",
    ),
    "reference-gru": (
        Config(arch="gru", hidden_size=256, num_layers=2, epochs=2, batch_size=1, lr=1e-3, schedule="constant",
               clip=0.0),
        "the tutorial's 2-layer GRU and loop: one name per step, Adam 1e-3, 2 epochs, no gradient "
        "clipping (the tutorial clipped its RNN's gradients, not its GRU's)",
    ),
    "default": (
        Config(arch="gru", embedding_dim=64, hidden_size=104, num_layers=1, bidirectional=True, dropout=0.2,
               epochs=12, batch_size=32, lr=3e-3, weight_decay=0.05, label_smoothing=0.05, class_weight=0.3,
               val_size=0.1, calibrate=True, tune_bias=True),
        "the bundled model: a bidirectional GRU over learned character embeddings with a class-weighted "
        "loss, small enough for tens of thousands of names per second on a CPU; the best validation "
        "epoch is kept, then logits are bias-tuned and calibrated on the validation split",
    ),
    "world": (
        Config(arch="gru", embedding_dim=64, hidden_size=136, num_layers=1, bidirectional=True, dropout=0.2,
               head_size=256, ngram_dim=16, ngram_buckets=262144, ngram_drop=0.5, epochs=20, batch_size=512, lr=8e-3,
               weight_decay=0.05, label_smoothing=0.05, class_weight=0.1, val_size=0.05, calibrate=True,
               case="lower", corpus="world", tutorial_repeat=4, locale_repeat=1, relabel=True),
        "the bundled world model: a bidirectional GRU with a bag of hashed character n-grams and a "
        "hidden head layer, trained on 490k Wikipedia people (full names, family names and given "
        "names, diaspora names relabelled), the tutorial's training names and Faker's and Mimesis's "
        "per-locale name lists, with an Other label; "
        "split by family name, best validation epoch kept, calibrated on validation",
    ),
}
REPRODUCE_PRESETS = ("reference-rnn", "reference-gru", "default")  # `nameorigin reproduce`'s runs


def resolve(preset: str | None, arch: str | None, **overrides) -> Config:
    """The config for a run: a preset (or the fast settings of `arch`), then explicit flags (None:
    not given). Not validated here: the caller runs `Config.validate` once on the result."""
    if preset is not None:
        base = PRESETS[preset][0]
        if arch is not None:
            base = replace(base, arch=arch)
    else:
        arch = arch or Config.arch
        base = FAST.get(arch, Config(arch=arch))
    return base.updated(**overrides)
