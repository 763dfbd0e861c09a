"""One run of an experiment, resolved once: what every other step of ``reproduce`` reads.

:func:`resolve_setting` turns the options of :func:`~sklvgg.experiments.run_experiment`
(the command line's, or a Python caller's) into one immutable :class:`RunSetting`:
the cut and how it is pooled (one spelling, :func:`cut_pooling`), the input size,
the class counts the data gives, the split, the epochs, the preprocessing, the
head, and what the weights answer (:func:`sklvgg._weights.weight_facts`). The
rules the library owns (a dense layer needs 224 x 224 input, pooling has no
effect on it) are asked of the library itself, once, here; nothing downstream
decides them again.
"""

from dataclasses import asdict, dataclass
from numbers import Integral

import numpy as np

from .._architecture import SPATIAL_LAYERS, ignored_pooling, layer_pooling
from .._weights import has_top, weight_facts
from ..exceptions import InputError
from ._protocol import HOLDOUT_FRACTION, default_preprocessing, make_head
from ._report import REPORT_TEMPERATURES

EXPERIMENTS = ("caltech256", "urban-tribes", "layers", "temperature")

#: The head's parameters that shape a fit, recorded in the setting.
_HEAD_PARAMS = ("solver", "learning_rate", "learning_rate_init", "batch_size", "max_iter", "tol", "alpha",
                "standardize", "init", "random_state")  # fmt: skip


def cut_pooling(layer, pooling):
    """How a cut's output becomes the head's input, in one spelling.

    Parameters
    ----------
    layer : str
    pooling : {None, "avg", "max"}
        The transformer's parameter.

    Returns
    -------
    label : {"flatten", "avg", "max", "dense"}
        ``"dense"`` for a fully connected layer (its output is a vector
        already); ``"flatten"`` for a conv or pool cut with ``pooling=None``.
    """
    if layer_pooling(layer, "avg") is None:  # the library's rule: no maps to pool
        return "dense"
    return pooling or "flatten"


@dataclass(frozen=True)
class RunSetting:
    """Everything one run of an experiment uses, resolved once by :func:`resolve_setting`.

    Frozen: the experiment functions, the comparison with the report, the
    figures, the files and the command line read it and change nothing.
    """

    experiment: str
    dataset: str
    weights: object
    weights_label: str
    has_top: bool
    is_imagenet: bool
    protocol: str
    epochs: int
    preprocessing: str
    layer: object  # the cut (None for "layers")
    layers: tuple  # the cuts of "layers" (empty otherwise)
    cut_layer: object  # the flattened cut of "urban-tribes" (None: none)
    pooling: object  # the transformer's parameter: None, "avg" or "max"
    input_size: int
    n_classes: object  # the classes used: an int, or a tuple for "temperature"
    classes_available: object  # an int (None: resolved without the data)
    split: str
    n_train: object  # images per class, train and validation ("per-class"; None with "holdout")
    n_test: object
    holdout: object  # the held-out fraction ("holdout"; None with "per-class")
    temperatures: tuple
    temperature_on: object
    head: tuple  # ((parameter, value), ...) of the head
    note: object  # a warning about the weights (a random top), or None

    @property
    def pooling_label(self):
        """How the run's cut is pooled (:func:`cut_pooling`); for ``"layers"``, its conv cuts'."""
        if self.experiment == "layers":
            return cut_pooling(
                next((c for c in self.layers if c in SPATIAL_LAYERS), self.layers[0]), self.pooling
            )
        return cut_pooling(self.layer, self.pooling)

    def to_dict(self):
        """The setting as JSON-ready data (``pooling`` as its label)."""
        data = asdict(self)
        data.pop("weights")
        data["weights_option"] = self.weights if not isinstance(self.weights, dict) else dict(self.weights)
        data["pooling"] = self.pooling_label
        data["head"] = dict(self.head)
        for key in ("layers", "temperatures"):
            data[key] = list(data[key])
        if isinstance(self.n_classes, tuple):
            data["n_classes"] = list(self.n_classes)
        return data


def _class_counts(experiment, n_classes, available):
    """The class counts used: those asked, capped at the ``available`` ones (None: not known yet)."""
    cap = (lambda k: k) if available is None else (lambda k: min(k, available))  # noqa: E731
    if experiment == "temperature":
        asked = (64, 256) if n_classes is None else [int(k) for k in np.atleast_1d(n_classes)]
        return tuple(sorted({cap(k) for k in asked}))
    if n_classes is not None and not isinstance(n_classes, Integral):
        raise InputError(
            f"n_classes of the {experiment} experiment is one class count (or None: all); got {n_classes!r}. "
            f"Several counts are for the temperature sweep."
        )
    return available if n_classes is None else cap(int(n_classes))


def _temperature_weights(weights):
    if has_top(weights):
        return weights, None
    conv = "random conv layers" if weights is None else "the given conv layers"
    note = (f"a random 1000-way top (random non-zero bias) on {conv}: these numbers mean nothing until "
            f"--weights imagenet")  # fmt: skip
    return {"conv": weights, "top": "random"}, note


def _check_cuts(layers, pooling, input_size, default_of=None):
    """The transformer's own rules on these cuts, asked once: an :class:`InputError` naming the parameter.

    Each cut of a run is a transformer of its own. On a cut where the library
    ignores ``pooling`` (:func:`sklvgg._architecture.ignored_pooling`: a flatten
    or dense layer), a pooling the user asked for would be dropped without a
    word: the library's reason is raised instead. ``default_of``: the weights
    whose default layer ``layers`` is (named in the message).
    """
    from .._transformer import VGG16FeatureTransformer

    for layer in layers:
        reason = ignored_pooling((layer,), pooling)
        if reason is None:
            continue
        if len(layers) > 1:
            where = f" (among the layers {list(layers)}, each cut alone)"
            instead = "conv and pool layers only"
        else:
            where = "" if default_of is None else f" (the default layer of {default_of})"
            instead = "a conv or pool layer"
        raise InputError(f"{reason}{where}. Use pooling=None, or {instead}.")
    for layer in layers:
        vgg = VGG16FeatureTransformer(weights=None, layer=layer, pooling=pooling, input_size=input_size)
        vgg._validate_params()
        vgg._check_combinations((layer,))


def resolve_setting(
    experiment, data, *, dataset, weights, protocol="study", epochs=None, preprocessing=None, layer=None,
    pooling="auto", input_size=224, split="per-class", n_train=16, n_test=4, holdout=HOLDOUT_FRACTION,
    n_classes=None, layers=("block4_pool", "block5_pool"), cut_layer="block3_pool",
    temperatures=REPORT_TEMPERATURES, temperature_on=None,
):  # fmt: skip
    """Resolve the options of one run into a :class:`RunSetting`, checking them once.

    Parameters
    ----------
    experiment : {"caltech256", "urban-tribes", "layers", "temperature"}
    data : Bunch or None
        The dataset (its class count bounds ``n_classes``). None checks the
        options before the data is read (the command line does, to refuse
        them before any work): the class counts are then those asked.
    dataset, weights, protocol, epochs, preprocessing, layer, input_size, split, n_train, n_test, holdout, \
n_classes, layers, cut_layer, temperatures, temperature_on
        As for :func:`~sklvgg.experiments.run_experiment`.
    pooling : {"auto", None, "avg", "max"}, default="auto"
        ``"auto"``: ``"avg"`` for a conv or pool cut, none for a dense one;
        ``None`` for ``"layers"`` (flattened, as the report). A pooling given
        for a dense cut, which the transformer would ignore there, is refused
        with the library's reason.

    Returns
    -------
    setting : RunSetting

    Raises
    ------
    InputError
        For a value no run can use, naming the parameter.
    """
    if experiment not in EXPERIMENTS:
        raise InputError(f"experiment must be one of {', '.join(EXPERIMENTS)}; got {experiment!r}.")
    if protocol not in ("study", "tuned"):
        raise InputError(f"protocol must be 'study' or 'tuned'; got {protocol!r}.")
    if split not in ("per-class", "holdout"):
        raise InputError(f"split must be 'per-class' or 'holdout'; got {split!r}.")
    available = None if data is None else len(np.unique(data.target))
    counts = _class_counts(experiment, n_classes, available)
    note, temps = None, tuple(float(t) for t in temperatures)
    if experiment == "temperature":
        weights, note = _temperature_weights(weights)
        temperature_on = temperature_on or ("fc2" if protocol == "study" else "logits")
        layer, layers, cut_layer, split = "predictions", (), None, "per-class"
        pooling = None if pooling in ("auto", None) else pooling
        cuts = ("predictions", "fc2")
    else:
        temperature_on, temps = None, ()
        if experiment == "layers":
            layer, layers, cut_layer = None, tuple(layers), None
            if len(set(layers)) != len(layers):
                duplicates = sorted({c for c in layers if layers.count(c) > 1})
                raise InputError(f"layers must be distinct; {', '.join(duplicates)} is given twice.")
            pooling = None if pooling == "auto" else pooling
            cuts = layers
        else:
            layers, default_of = (), None if layer else f"weights {weight_facts(weights).label}"
            layer = layer or weight_facts(weights).default_layer
            if pooling == "auto":
                pooling = layer_pooling(layer, "avg")
            cut_layer = cut_layer if experiment == "urban-tribes" else None
            cuts = (layer,)
    _check_cuts(
        cuts, pooling, input_size, default_of if experiment in ("caltech256", "urban-tribes") else None
    )
    if cut_layer is not None:
        _check_cuts((cut_layer,), None, input_size)
    facts = weight_facts(weights)
    preprocessing = preprocessing or default_preprocessing(protocol)
    head = make_head(protocol, epochs=epochs)
    head_params = tuple((name, head.get_params()[name]) for name in _HEAD_PARAMS)
    per_class = split == "per-class"
    return RunSetting(
        experiment=experiment, dataset=dataset, weights=weights, weights_label=facts.label,
        has_top=facts.has_top, is_imagenet=facts.is_imagenet, protocol=protocol,
        epochs=int(head.max_iter), preprocessing=preprocessing, layer=layer, layers=layers,
        cut_layer=cut_layer, pooling=pooling, input_size=int(input_size), n_classes=counts,
        classes_available=available, split=split, n_train=int(n_train) if per_class else None,
        n_test=int(n_test) if per_class else None, holdout=None if per_class else float(holdout),
        temperatures=temps, temperature_on=temperature_on, head=head_params, note=note,
    )  # fmt: skip
