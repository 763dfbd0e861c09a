"""Splitters for the per-class protocol of the transfer-learning study."""

from ._split import PerClassSplit

__all__ = ["PerClassSplit"]
