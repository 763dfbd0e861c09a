import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklvgg.preprocessing import SignedPower


@parametrize_with_checks([SignedPower()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_signed_power_formula():
    X = np.array([[4.0, -9.0, 0.0, 0.25]], dtype=np.float32)
    out = SignedPower(power=0.5).fit_transform(X)
    np.testing.assert_allclose(out, [[2.0, -3.0, 0.0, 0.5]])
    assert out.dtype == np.float32
    np.testing.assert_allclose(SignedPower(power=2).fit_transform(X), [[16.0, -81.0, 0.0, 0.0625]])
    np.testing.assert_array_equal(SignedPower(power=1).fit_transform(X), X)
    with pytest.raises(ValueError, match="'power' parameter"):
        SignedPower(power=0).fit(X)
