"""Constraint objects for ``_parameter_constraints`` that scikit-learn's own do not express.

Each subclasses one of the constraint types that
:func:`sklearn.utils._param_validation.make_constraint` takes as they are
(``Options``, ``Interval``), so that an invalid value raises scikit-learn's
standard :class:`~sklearn.utils._param_validation.InvalidParameterError` ("The
'layer' parameter of VGG16FeatureTransformer must be ... Got ... instead."),
the constraint's ``str`` saying what is valid and, for a list, which element is
at fault.
"""

import threading
from collections import Counter
from numbers import Integral

from sklearn.utils._param_validation import Interval, Options

__all__ = ["ImageSizes", "LayerNames"]


def _listed(values):
    return ", ".join(repr(value) for value in values)


class LayerNames(Options):
    """A layer name, or a non-empty list (or tuple) of distinct layer names.

    Parameters
    ----------
    names : sequence of str
        The valid names, in network order: the message lists them so.
    """

    def __init__(self, names):
        super().__init__((str, list, tuple), dict.fromkeys(names).keys())
        self.names = tuple(names)
        # why the value last checked in this thread failed; read by __str__,
        # which scikit-learn calls right after a failed is_satisfied_by
        self._fault = threading.local()

    def fault(self, val):
        """What makes ``val`` invalid, or None if it is valid.

        Parameters
        ----------
        val : object

        Returns
        -------
        fault : str or None
            Names the culprit where there is one (an unknown or repeated
            name); ``""`` for a value of the wrong type.
        """
        if isinstance(val, str):
            return None if val in self.names else f"{val!r} is not a layer of VGG16"
        if not isinstance(val, (list, tuple)):
            return ""
        if len(val) == 0:
            return f"an empty {type(val).__name__}"
        unknown = [name for name in val if not isinstance(name, str) or name not in self.names]
        if unknown:
            verb = "is not a layer" if len(unknown) == 1 else "are not layers"
            return f"{_listed(unknown)} {verb} of VGG16"
        repeated = [name for name, count in Counter(val).items() if count > 1]
        if repeated:
            return f"{_listed(repeated)} {'is' if len(repeated) == 1 else 'are'} repeated"
        return None

    def is_satisfied_by(self, val):
        fault = self.fault(val)
        self._fault.text = fault
        return fault is None

    def __str__(self):
        fault = getattr(self._fault, "text", None)
        return (
            f"a layer name or a non-empty list (or tuple) of distinct layer names among "
            f"{{{_listed(self.names)}}}" + (f" ({fault})" if fault else "")
        )


class ImageSizes(Interval):
    """A non-empty list (or tuple) of distinct integer image sizes, each at least ``minimum``.

    Parameters
    ----------
    minimum : int
    """

    def __init__(self, minimum):
        super().__init__(Integral, minimum, None, closed="left")

    def is_satisfied_by(self, val):
        if not isinstance(val, (list, tuple)) or len(val) == 0:
            return False
        sizes = all(not isinstance(size, bool) and Interval.is_satisfied_by(self, size) for size in val)
        return sizes and len(set(val)) == len(val)

    def __str__(self):
        return f"a non-empty list (or tuple) of distinct image sizes, integers >= {self.left}"
