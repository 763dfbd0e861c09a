"""Descriptor normalisation for VGG16 features: steps of a ``Pipeline`` after the transformer.

The strongest off-the-shelf recipes (Razavian et al. 2014; Chatfield et al. 2014)
follow the pooled activations with a signed power ("power normalisation", often
the square root) and an L2 normalisation. They are pipeline steps here, not
:class:`~sklvgg.VGG16FeatureTransformer` parameters, because they change nothing
that the network computes: the per-image cache keeps the pooled activations, and a
``GridSearchCV`` over ``power__power`` or over ``"passthrough"`` vs a step costs
no network pass at all. For the L2 step use scikit-learn's own
``sklearn.preprocessing.Normalizer(norm="l2")``.
"""

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from .exceptions import InputError

__all__ = ["SignedPower"]


class SignedPower(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Signed power of each feature: ``sign(x) * |x| ** power``.

    With ``power=0.5`` the "signed square root" of power normalisation: it
    damps the few large activations that dominate pooled conv features, so that
    many weaker ones count. Stateless: ``fit`` only checks the input.

    Parameters
    ----------
    power : float, default=0.5
        The exponent, > 0. 1 leaves the features as they are. A power above 1
        can make large features overflow: ``transform`` computes in float64
        and refuses (``ValueError`` naming ``power`` and the input's largest
        value) a result that does not fit the input's dtype, rather than
        returning infinities.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen in ``fit``.

    See Also
    --------
    sklearn.preprocessing.Normalizer : the L2 step that usually follows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklvgg.descriptors import SignedPower
    >>> SignedPower(power=0.5).fit_transform(np.array([[4.0, -9.0, 0.0]]))
    array([[ 2., -3.,  0.]])
    """

    _parameter_constraints = {"power": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, power=0.5):
        self.power = power

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check ``X``; nothing is learnt.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        validate_data(self, X, dtype=[np.float64, np.float32])
        return self

    def transform(self, X):
        """Apply the signed power.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features)
            Same dtype as ``X`` (float32 stays float32), computed in float64.

        Raises
        ------
        ValueError
            When a value's power does not fit the dtype of ``X`` (it would be
            infinite), naming ``power`` and the value.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        with np.errstate(over="ignore"):
            powered = np.abs(X, dtype=np.float64) ** float(self.power)
        too_large = ~(powered <= np.finfo(X.dtype).max)
        if too_large.any():
            row, column = np.argwhere(too_large)[0]
            raise InputError(
                f"SignedPower(power={self.power!r}): |x| ** power overflows {X.dtype} at row {row}, "
                f"column {column} of the input (x = {float(X[row, column]):.6g}); "
                f"lower power or scale the features first."
            )
        return (np.sign(X) * powered).astype(X.dtype, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
