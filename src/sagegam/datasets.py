"""Bundled datasets (re-exported from :mod:`sagegam.model.datasets`)."""

from sagegam.model.datasets import gauss3_path, gauss3_split, load_gauss3

__all__ = ["gauss3_path", "gauss3_split", "load_gauss3"]
