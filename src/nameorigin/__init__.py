"""nameorigin: which language does a name come from?

Character-level recurrent networks in PyTorch: the reference tutorial's hand-written RNN and GRU,
trained fast, evaluated honestly, and served from Python, the shell or HTTP.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "load_model", "Classifier", "Prediction"]


def __getattr__(name: str):
    # Importing the package stays cheap (no torch) until a model is actually needed.
    if name in ("load_model", "Classifier", "Prediction"):
        from .inference import classifier

        return getattr(classifier, name)
    raise AttributeError(f"module 'nameorigin' has no attribute {name!r}")
