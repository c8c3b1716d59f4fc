"""A bag of hashed character n-grams: fastText's trick, beside the recurrent reading of a name.

A name's 2-, 3- and 4-grams (with a boundary mark before and after it, so ``^me`` and ``el$`` are
n-grams too) are hashed into a fixed number of buckets, each bucket has a learned vector, and the
name's vector is the mean of its n-grams' vectors. It costs a lookup per n-gram rather than matrix
products per character, and it remembers fragments (``escu$``, ``ovic``, ``^ng``) that a small
recurrent state has to spend capacity on.

With ``words`` a space is a boundary mark too (``^angela^merkel$``), so n-grams say where each
word starts and ends (some still run across a mark, ``a^me``), and with ``max_order`` 6 a
four-letter given name (``^mike^``) is one n-gram of its own, the same alone and in a full
name: what the bag learns of a given name then carries over to every family name it comes with.

The hashing is plain integer tensor arithmetic, so it runs the same in PyTorch, TorchScript and ONNX.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..runtime.ngrams import BASE, MIX, PRIME, SPACE

MAX_ORDER = 4  # the default bag: 2- to 4-grams


def ngram_buckets(chars: torch.Tensor, lengths: torch.Tensor, n_buckets: int, max_order: int = MAX_ORDER,
                  words: bool = False) -> torch.Tensor:
    """``(batch, positions)`` bucket ids of each name's 2- to `max_order`-grams; 0 where a
    position holds none. With `words`, a space is a word boundary, marked like a name's ends.

    Bucket 0 is kept for padding, so the ids are 1 to ``n_buckets - 1``.
    """
    if max_order > 4:  # room for the longest n-gram even in a batch of one-letter names
        chars = F.pad(chars, (0, max_order - 4))
    batch, steps = chars.shape
    lengths = lengths.to(chars.device).view(-1, 1)
    positions = torch.arange(steps + 2, device=chars.device).view(1, -1)
    marked = torch.zeros(batch, steps + 2, dtype=torch.int64, device=chars.device)
    marked[:, 1:steps + 1] = chars.to(torch.int64) + 1
    marked = torch.where(positions <= lengths, marked, torch.zeros_like(marked))
    if words:
        marked = torch.where(marked == SPACE, torch.zeros_like(marked), marked)
    ids = []
    for n in range(2, max_order + 1):
        width = steps + 3 - n
        code = torch.zeros(batch, width, dtype=torch.int64, device=chars.device)
        for k in range(n):
            code = code * BASE + marked[:, k:k + width]
        bucket = ((code % PRIME) * MIX + n) % (n_buckets - 1) + 1
        inside = positions[:, :width] + n <= lengths + 2
        ids.append(torch.where(inside, bucket, torch.zeros_like(bucket)))
    return torch.cat(ids, dim=1)


def mean_vectors(table: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Each row's mean of the `table` vectors its bucket `ids` name, padding (0) left out (and,
    in training, given no gradient, so its vector stays zero)."""
    present = (ids > 0).to(table.dtype)
    total = F.embedding(ids, table, padding_idx=0).sum(dim=1)
    return total / present.sum(dim=1, keepdim=True).clamp_min(1.0)


class NgramBag(nn.Module):
    """The mean of a name's hashed n-gram vectors (``n_buckets`` vectors of size ``dim``).

    In training, each n-gram is left out with probability `drop`: a table this large can
    otherwise learn training names by heart from their rarest fragments, and names it has not
    seen are read from common ones.
    """

    def __init__(self, n_buckets: int, dim: int, drop: float = 0.0, max_order: int = MAX_ORDER,
                 words: bool = False):
        super().__init__()
        self.n_buckets, self.max_order, self.words = n_buckets, max_order, words
        self.drop = drop
        self.vectors = nn.Embedding(n_buckets, dim, padding_idx=0)
        nn.init.normal_(self.vectors.weight, std=dim ** -0.5)
        with torch.no_grad():
            self.vectors.weight[0].zero_()

    def ids(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The bucket ids this bag reads (all of them: dropout is `forward`'s)."""
        return ngram_buckets(chars, lengths, self.n_buckets, self.max_order, self.words)

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        ids = self.ids(chars, lengths)
        if self.training and self.drop > 0:
            ids = ids.masked_fill(torch.rand(ids.shape, device=ids.device) < self.drop, 0)
        return mean_vectors(self.vectors.weight, ids)


def stored_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The tensors a checkpoint stores: n-gram tables as float16, everything else as it is.

    An n-gram table holds most of a model's numbers and each vector is one of dozens averaged,
    so half precision halves the file for a change in the logits near 1e-4.
    """
    return {name: (tensor.half() if _is_table(name) else tensor).detach().cpu().contiguous()
            for name, tensor in model.state_dict().items()}


def round_like_storage(model: nn.Module) -> None:
    """Round the n-gram tables to float16 in place, so a trained model answers exactly as it
    will once saved and loaded (calibration and test figures are then those of the file)."""
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if _is_table(name):
                tensor.copy_(tensor.half())


def _is_table(name: str) -> bool:
    return name == "ngrams.vectors.weight" or name.endswith(".ngrams.vectors.weight")
