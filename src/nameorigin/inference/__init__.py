"""Prediction: the `Classifier` a checkpoint loads as, turning logits into calibrated
probabilities, explanations and the ONNX backend. Needs nothing from evaluation or training."""
