"""Calibration: making "90 % sure" mean right 90 % of the time.

A network trained with cross-entropy is usually over-confident. Temperature scaling divides the
logits by one number T, fitted on held-out names, which changes confidence but never the ranking.
Expected calibration error (`evaluation.metrics.expected_calibration_error`) measures what is left.
"""

from __future__ import annotations

import numpy as np
import torch

from ..evaluation.metrics import expected_calibration_error


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, max_iter: int = 200) -> float:
    """The T > 0 minimising the negative log-likelihood of ``softmax(logits / T)`` on `labels`,
    kept within 0.001-1000, the range a checkpoint may hold (a degenerate validation split could
    otherwise drive it to 0 or infinity)."""
    log_t = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")
    logits, labels = logits.detach().float(), labels.long()

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimizer.step(closure)
    return min(max(float(log_t.detach().exp()), 1e-3), 1e3)


def ece_temperature(logits: torch.Tensor, labels: torch.Tensor, n_bins: int = 15, steps: int = 281) -> float:
    """The T, within a factor of 2 either side of `fit_temperature`'s, with the lowest ECE on `labels`.

    Likelihood weighs every probability a model gives and ECE only the top one's confidence;
    when one number cannot fix both (label smoothing and class weights bend a model's confidence
    unevenly), the likelihood's T can leave ECE above what no temperature at all gives. Searching
    near the likelihood's T keeps a small validation part from driving it far.
    """
    logits, labels = logits.detach().float().cpu(), labels.long().cpu()
    likely = fit_temperature(logits, labels)
    grid = likely * np.exp(np.linspace(-np.log(2), np.log(2), steps))
    grid = grid[(grid >= 1e-3) & (grid <= 1e3)]
    truth = labels.numpy()
    errors = [expected_calibration_error(torch.softmax(logits / t, dim=1).numpy(), truth, n_bins) for t in grid]
    return float(grid[int(np.argmin(errors))])
