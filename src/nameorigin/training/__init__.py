"""Training: the loop, the optimiser, resuming, several processes, calibration fitting, and the
pipeline that trains, scores and saves a checkpoint."""
