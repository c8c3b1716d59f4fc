"""Scoring a model: the headline figures, calibration error and the full report on test sets."""
