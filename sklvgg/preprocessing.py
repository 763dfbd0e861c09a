"""Deprecated: :mod:`sklvgg.descriptors` is this module's new name.

It was renamed because ``preprocessing`` is also the transformer's parameter for
what happens to the pixels before the network; the descriptor normalisation
applied after it lives in :mod:`sklvgg.descriptors`. Importing ``SignedPower``
from here still works and warns.
"""

import warnings

__all__ = ["SignedPower"]  # noqa: F822 (served by __getattr__, with a warning)


def __getattr__(name):
    if name == "SignedPower":
        warnings.warn(
            "sklvgg.preprocessing was renamed sklvgg.descriptors (the transformer's `preprocessing` "
            "parameter is the pixels' preprocessing); import SignedPower from sklvgg.descriptors.",
            FutureWarning,
            stacklevel=2,
        )
        from .descriptors import SignedPower

        return SignedPower
    raise AttributeError(f"module 'sklvgg.preprocessing' has no attribute {name!r}")
