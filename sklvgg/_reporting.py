"""What a transform tells its user: progress bars and cache counts.

A transformer with ``verbose >= 1`` draws one tqdm bar per network pass and
prints its cache counts after every ``transform``. That suits a library user
who calls ``transform`` once; a command that fits many clones (a learning
curve, a grid search) would print a line per fit. :func:`collect_transforms`
lets such a caller take the reporting over for a block of code: inside it,
every transformer of the process (whatever its ``verbose``) adds its counts
to one :class:`TransformTally` instead of printing them, and draws its bars
only if the tally asks for them.
"""

import os
import sys
import threading
import warnings
from contextlib import contextmanager

__all__ = ["TransformTally", "collect_transforms", "progress_bar", "warn_at_caller"]

_LOCK = threading.Lock()
_ACTIVE = []  # the tallies of the enclosing collect_transforms blocks, innermost last


class TransformTally:
    """Cache counts of every ``transform`` run inside :func:`collect_transforms`.

    Parameters
    ----------
    progress : bool, default=True
        Whether the transformers draw a progress bar for each network pass.

    Attributes
    ----------
    transforms : int
        Calls of ``transform`` (and ``fit_transform``) that were counted.
    rows : int
        Feature rows returned.
    rows_read_back : int
        Rows served from a feature cache.
    images_computed : int
        Images pushed through the network (with or without a cache).
    """

    def __init__(self, progress=True):
        self.progress = progress
        self.transforms = self.rows = self.rows_read_back = self.images_computed = 0

    def add(self, *, rows, rows_read_back, images_computed):
        """Count one ``transform``.

        Parameters
        ----------
        rows : int
        rows_read_back : int
        images_computed : int
        """
        with _LOCK:
            self.transforms += 1
            self.rows += rows
            self.rows_read_back += rows_read_back
            self.images_computed += images_computed

    def summary(self):
        """One line, e.g. ``cache: 200 images computed, 820 feature rows read back``.

        Returns
        -------
        line : str
        """
        return (
            f"cache: {self.images_computed} images computed, {self.rows_read_back} feature rows "
            f"read back ({self.transforms} transforms)"
        )


@contextmanager
def collect_transforms(progress=True):
    """Count the cache use of every transform in the block, silently.

    Parameters
    ----------
    progress : bool, default=True
        Draw one progress bar per network pass (labelled with the layers,
        pooling and input size it computes); False draws none.

    Yields
    ------
    tally : TransformTally
        Filled as transforms run; ``tally.summary()`` is the one line to print.
    """
    tally = TransformTally(progress=progress)
    with _LOCK:
        _ACTIVE.append(tally)
    try:
        yield tally
    finally:
        with _LOCK:
            _ACTIVE.remove(tally)


def active_tally():
    """The innermost :class:`TransformTally` being filled, or None."""
    with _LOCK:
        return _ACTIVE[-1] if _ACTIVE else None


def progress_bar(total, verbose, desc):
    """A tqdm bar in images/s, or a silent stand-in.

    Drawn when ``verbose`` is true or, inside :func:`collect_transforms`,
    when its tally asks for bars; never for ``total == 0``.

    Parameters
    ----------
    total : int
    verbose : int
    desc : str

    Returns
    -------
    bar : tqdm.tqdm
    """
    from tqdm.auto import tqdm

    tally = active_tally()
    show = tally.progress if tally is not None else bool(verbose)
    return tqdm(total=total, desc=desc, unit="img", disable=not show or total == 0, leave=True)


def _library_folders():
    """Folders whose frames a warning skips: this package's and those that wrap its methods."""
    import joblib
    import sklearn

    here = os.path.dirname(os.path.abspath(__file__))
    return tuple(os.path.dirname(os.path.abspath(m.__file__)) + os.sep for m in (sklearn, joblib)) + (
        here + os.sep,
    )


def warn_at_caller(message, category):
    """``warnings.warn`` pointing at the first line outside sklvgg, scikit-learn and joblib.

    What ``warnings.warn(..., skip_file_prefixes=...)`` does from Python 3.12:
    the warning names the user's line (the ``transform``, ``fit`` or
    ``Pipeline.fit`` call), however deep in the library it is raised. Where
    there is none (``python -m sklvgg``, a worker thread), the outermost
    library line.

    Parameters
    ----------
    message : str
    category : type of Warning
    """
    skip = _library_folders()
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(skip):
        frame, level = frame.f_back, level + 1
    name = frame.f_code.co_filename
    if level > 1 and (name.startswith("<frozen") or name.endswith(os.sep + "threading.py")):
        level -= 1  # no user line (``python -m sklvgg``, a worker thread): the outermost library one
    warnings.warn(message, category, stacklevel=level + 1)
