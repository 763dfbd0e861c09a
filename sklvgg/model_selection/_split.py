"""PerClassSplit: the first k images of each class train, the next m test."""

from numbers import Integral

import numpy as np
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ..exceptions import InputError


class PerClassSplit(BaseCrossValidator):
    """Per-class train/test split: ``n_train_per_class`` + ``n_test_per_class``.

    With ``order="file"`` it is the study's protocol: within each class, in the
    order the samples come (file order for the :mod:`sklvgg.datasets` loaders),
    the first ``n_train_per_class`` train and the next ``n_test_per_class``
    test. With ``order="random"`` each split draws them at random.

    **Round-robin training indices.** The training indices are interleaved by
    class: the first image of every class, then the second of every class, and
    so on. Hence ``learning_curve(..., cv=PerClassSplit(...),
    train_sizes=k * n_classes, shuffle=False)`` trains on exactly the first
    ``k`` images of each class, which is the study's accuracy-vs-images-per-
    class curve.

    Parameters
    ----------
    n_train_per_class : int, default=16
    n_test_per_class : int, default=4
        Every class needs ``n_train_per_class + n_test_per_class`` samples; the
        :mod:`sklvgg.datasets` loaders leave smaller classes out with
        ``min_images``.
    order : {"file", "random"}, default="file"
    n_splits : int, default=1
        With ``order="file"`` every split is the same.
    random_state : int, RandomState instance or None, default=None
        For ``order="random"``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklvgg.model_selection import PerClassSplit
    >>> y = np.array([0, 0, 0, 1, 1, 1])
    >>> train, test = next(PerClassSplit(2, 1).split(np.zeros(6), y))
    >>> train, test
    (array([0, 3, 1, 4]), array([2, 5]))
    """

    _parameter_constraints = {
        "n_train_per_class": [Interval(Integral, 1, None, closed="left")],
        "n_test_per_class": [Interval(Integral, 0, None, closed="left")],
        "order": [StrOptions({"file", "random"})],
        "n_splits": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self, n_train_per_class=16, n_test_per_class=4, *, order="file", n_splits=1, random_state=None
    ):
        self.n_train_per_class = n_train_per_class
        self.n_test_per_class = n_test_per_class
        self.order = order
        self.n_splits = n_splits
        self.random_state = random_state

    def _validate(self):
        from sklearn.utils._param_validation import validate_parameter_constraints

        validate_parameter_constraints(
            self._parameter_constraints, self.__dict__, caller_name=type(self).__name__
        )

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of splits.

        Parameters
        ----------
        X, y, groups : object
            Ignored.

        Returns
        -------
        n_splits : int
        """
        return self.n_splits

    def split(self, X, y, groups=None):
        """Generate train and test indices.

        Parameters
        ----------
        X : array-like or sequence of length n_samples
        y : array-like of shape (n_samples,)
            Class labels.
        groups : object
            Ignored.

        Yields
        ------
        train : ndarray
            Round-robin by class (see the class docstring).
        test : ndarray
            Sorted.
        """
        self._validate()
        y = np.asarray(y)
        if len(y) != len(X):
            raise InputError(f"X and y have different lengths: {len(X)} and {len(y)}.")
        classes, y_idx = np.unique(y, return_inverse=True)
        need = self.n_train_per_class + self.n_test_per_class
        counts = np.bincount(y_idx, minlength=len(classes))
        short = np.flatnonzero(counts < need)
        if len(short):
            n = len(short) - 1
            others = f" (and {n} other class{'es are' if n > 1 else ' is'} short)" if n else ""
            raise InputError(
                f"PerClassSplit needs n_train_per_class + n_test_per_class = {need} samples "
                f"per class; class {classes[short[0]].item()!r} has {counts[short[0]]}{others}. "
                f"Leave the short classes out (the sklvgg.datasets loaders' min_images={need}; "
                f"--min-images {need} on the command line) or lower n_train_per_class or "
                f"n_test_per_class."
            )
        rng = check_random_state(self.random_state)
        members = [np.flatnonzero(y_idx == c) for c in range(len(classes))]
        for _ in range(self.n_splits):
            picks = [rng.permutation(m) if self.order == "random" else m for m in members]
            train = np.stack([p[: self.n_train_per_class] for p in picks], axis=1).ravel()
            test = np.sort(np.concatenate([p[self.n_train_per_class : need] for p in picks]))
            yield train, test

    def _iter_test_indices(self, X=None, y=None, groups=None):  # pragma: no cover
        raise NotImplementedError("split() is implemented directly.")
