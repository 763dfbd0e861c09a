import warnings

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklvgg.descriptors import SignedPower


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


def test_signed_power_refuses_what_overflows_the_dtype_naming_power_and_the_value():
    X = np.array([[0.5, -2.0], [30.0, 1.0]], dtype=np.float32)  # 30 ** 50 > float32's maximum
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning on the way
        with pytest.raises(ValueError, match=r"power=50.*float32 at row 1, column 0.*x = 30"):
            SignedPower(power=50).fit_transform(X)
        out = SignedPower(power=50).fit_transform(X.astype(np.float64))  # fits in float64
        assert np.isfinite(out).all() and out.dtype == np.float64
        np.testing.assert_allclose(out[:, 0], [0.5**50, 30.0**50], rtol=1e-12)
        small = SignedPower(power=50).fit_transform(np.array([[-2.0, 1e-3]], dtype=np.float32))
        assert small.dtype == np.float32 and np.isfinite(small).all()  # 1e-150 rounds to 0
        np.testing.assert_allclose(small, [[-(2.0**50), 0.0]], rtol=1e-6)
        with pytest.raises(ValueError, match="power=50"):
            SignedPower(power=50).fit_transform(np.array([[1e300]]))


def test_the_old_module_name_still_imports_signed_power_and_warns():
    from sklvgg import descriptors

    with pytest.warns(FutureWarning, match="renamed sklvgg.descriptors"):
        from sklvgg.preprocessing import SignedPower as Old
    assert Old is descriptors.SignedPower
    import sklvgg.preprocessing

    with pytest.raises(AttributeError, match="has no attribute 'Normalizer'"):
        sklvgg.preprocessing.Normalizer  # noqa: B018
