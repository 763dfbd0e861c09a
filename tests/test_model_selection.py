"""PerClassSplit (``sklvgg/model_selection/``): the study's first-n-per-class splits."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import learning_curve

from sklvgg.model_selection import PerClassSplit


def test_file_order_protocol():
    y = np.repeat(["a", "b", "c"], 6)
    train, test = next(PerClassSplit(4, 2).split(np.zeros(18), y))
    assert list(train) == [0, 6, 12, 1, 7, 13, 2, 8, 14, 3, 9, 15]  # round-robin
    assert list(test) == [4, 5, 10, 11, 16, 17]


def test_random_order_and_splits():
    y = np.repeat([0, 1], 10)
    cv = PerClassSplit(3, 2, order="random", n_splits=4, random_state=0)
    splits = list(cv.split(np.zeros(20), y))
    assert len(splits) == cv.get_n_splits() == 4
    for train, test in splits:
        assert not set(train) & set(test)
        assert np.bincount(y[train]).tolist() == [3, 3] and np.bincount(y[test]).tolist() == [2, 2]
    assert len({tuple(t) for t, _ in splits}) > 1


def test_learning_curve_trains_on_exactly_k_per_class(rng):
    n_classes = 5
    y = np.repeat(np.arange(n_classes), 20)
    X = rng.normal(size=(100, 3)) + y[:, None]
    seen = []

    class Recorder(LogisticRegression):
        def fit(self, X, y):
            seen.append(np.bincount(y, minlength=n_classes).tolist())
            return super().fit(X, y)

    sizes = [k * n_classes for k in (1, 2, 4, 8, 16)]
    learning_curve(Recorder(), X, y, train_sizes=sizes, cv=PerClassSplit(16, 4), shuffle=False)
    assert seen == [[k] * n_classes for k in (1, 2, 4, 8, 16)]


def test_errors():
    y = np.repeat([0, 1], 5)
    with pytest.raises(ValueError, match="class 0 has 5"):
        next(PerClassSplit(4, 2).split(np.zeros(10), y))
    with pytest.raises(ValueError, match="'order' parameter"):
        next(PerClassSplit(order="shuffled").split(np.zeros(10), y))


def test_short_class_error_says_what_to_do():
    y = np.repeat([0, 1, 2], [5, 6, 4])
    with pytest.raises(ValueError, match=r"class 0 has 5 \(and 1 other class is short\)\.") as info:
        next(PerClassSplit(4, 2).split(np.zeros(15), y))
    assert "min_images=6" in str(info.value) and "--min-images 6" in str(info.value)
    y = np.repeat([0, 1, 2], [5, 3, 4])
    with pytest.raises(ValueError, match=r"\(and 2 other classes are short\)"):
        next(PerClassSplit(4, 2).split(np.zeros(12), y))


@pytest.mark.parametrize(
    "kw", [dict(n_train_per_class=0), dict(n_test_per_class=-1), dict(order="x"), dict(n_splits=0)]
)
def test_bad_split_parameters(kw):
    with pytest.raises((ValueError, TypeError), match="parameter of PerClassSplit must be"):
        next(PerClassSplit(**kw).split(np.zeros(40), np.arange(40) % 2))
