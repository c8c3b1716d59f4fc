"""The networks in numpy, for prediction without PyTorch.

`models` says what each network computes, in PyTorch, the way the tutorial writes it, and trains
it. This package computes the same logits from a checkpoint's weights with numpy alone, laid out
the way a CPU likes it (`recurrent` says how): it is what every prediction runs on unless a
caller asks for PyTorch (``backend="torch"``, for a GPU). Read `recurrent`, then `networks`.
"""

from .networks import Network, build, expected_shapes

__all__ = ["Network", "build", "expected_shapes"]
