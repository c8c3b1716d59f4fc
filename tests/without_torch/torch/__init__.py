# Put on PYTHONPATH by tests/test_light.py: `import torch` fails, as where PyTorch is not installed.
raise ImportError("No module named 'torch' (blocked by tests/without_torch: this run checks nameorigin without PyTorch)")
