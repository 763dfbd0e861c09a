"""The errors sklvgg raises on purpose, about the user's input or environment.

Everything sklvgg refuses (a parameter value, a file, a folder, data that cannot
work, weights that cannot be had) is an :class:`SklvggUserError`, with the
culprit named in its message; anything else is a bug and keeps its traceback.
``python -m sklvgg`` prints a user error as one line and exits with its
:attr:`~SklvggUserError.exit_status` (and scikit-learn's
``InvalidParameterError``, which the estimators' parameter constraints raise,
with status 2).
"""

__all__ = ["InputError", "OutputUnwritableError", "SklvggUserError", "WeightsUnavailableError"]


class SklvggUserError(Exception):
    """An error in the user's input or environment, raised on purpose, its message naming the culprit.

    Attributes
    ----------
    exit_status : int
        The command line's exit status for it: 2 for wrong input or usage (as
        ``argparse``), 1 when the environment fails.
    """

    exit_status = 1


class InputError(SklvggUserError, ValueError):
    """A value, file, folder or dataset that cannot work (a ``ValueError``)."""

    exit_status = 2


class WeightsUnavailableError(SklvggUserError, OSError):
    """VGG16's weights cannot be found or fetched (e.g. ``weights="imagenet"`` offline)."""


class OutputUnwritableError(SklvggUserError, OSError):
    """An output folder cannot be created or written."""
