"""Reproduction test-suite and benchmark harness: seven papers, PyTorch and TensorFlow side by side.

Importing this package (or running `python -m harness list`) never imports torch or tensorflow.
"""

__version__ = "0.1.0"
