"""Model summaries of the study's networks, from the architecture alone (no weights).

What ``model.summary()`` printed in the report (its sections 1.2 (c), 1.5 and 3), for
the networks sklvgg trains: the frozen VGG16 up to a cut, the pooling or flattening,
and the new softmax layer; or the report's temperature model, the ``fc2`` output
divided by ``T`` (a ``Lambda``), the frozen 1000-way ``predictions`` layer and the
new softmax layer. Parameter counts come from the layer shapes, so they need no
download: for 256 classes the temperature model has 4,353,256 parameters, 256,256
trainable and 4,097,000 frozen, as the report's summary says.
"""

import numpy as np

from ._architecture import (
    LAYER_NAMES,
    SPATIAL_LAYERS,
    TOP_INPUT_SIZE,
    kernel_shape,
    layer_kind,
    layer_output_shape,
    layer_pooling,
)

__all__ = ["format_summary", "model_summary", "temperature_model_summary"]


def _weights_of(layer, input_size):
    """Parameters of one VGG16 layer (kernel and bias), 0 for pool and flatten layers."""
    shape = kernel_shape(layer, input_size)
    return 0 if shape is None else int(np.prod(shape)) + shape[-1]


def _row(layer, kind, shape, params, trainable):
    return {
        "layer": layer,
        "type": kind,
        "output_shape": tuple(shape),
        "params": int(params),
        "trainable": trainable,
    }


def _totals(rows):
    trainable = sum(r["params"] for r in rows if r["trainable"])
    frozen = sum(r["params"] for r in rows if not r["trainable"])
    return {"rows": rows, "total": trainable + frozen, "trainable": trainable, "frozen": frozen}


def model_summary(layer, n_classes, *, input_size=TOP_INPUT_SIZE, pooling=None):
    """The frozen VGG16 up to ``layer``, its pooling or flattening, and the new softmax layer.

    Parameters
    ----------
    layer : str
        The cut, a name from :data:`sklvgg.LAYER_NAMES`.
    n_classes : int
        Outputs of the new softmax layer.
    input_size : int, default=224
    pooling : {None, "avg", "max"}, default=None
        For conv and pool cuts: None flattens the maps, as the report's cuts.

    Returns
    -------
    summary : dict
        ``rows`` (``layer``, ``type``, ``output_shape`` without the batch axis,
        ``params``, ``trainable``), ``total``, ``trainable`` and ``frozen``.
    """
    rows = [_row("input", "InputLayer", (input_size, input_size, 3), 0, False)]
    for name in LAYER_NAMES[: LAYER_NAMES.index(layer) + 1]:
        kind = {"conv": "Conv2D", "pool": "MaxPooling2D", "flatten": "Flatten", "dense": "Dense"}[
            layer_kind(name)
        ]
        rows.append(
            _row(name, kind, layer_output_shape(name, input_size), _weights_of(name, input_size), False)
        )
    width = int(np.prod(layer_output_shape(layer, input_size)))
    pool = layer_pooling(layer, pooling)
    if pool is not None:
        width = layer_output_shape(layer, input_size)[-1]
        kind = {"avg": "GlobalAveragePooling2D", "max": "GlobalMaxPooling2D"}[pool]
        rows.append(_row(f"{pool}_pool", kind, (width,), 0, False))
    elif layer in SPATIAL_LAYERS:  # the maps flattened
        rows.append(_row("flatten", "Flatten", (width,), 0, False))
    rows.append(_row("softmax", "Dense (new, softmax)", (n_classes,), width * n_classes + n_classes, True))
    return _totals(rows)


def temperature_model_summary(n_classes):
    """The report's temperature model: ``fc2`` output, ``Lambda(1/T)``, frozen ``predictions``, new softmax.

    Parameters
    ----------
    n_classes : int

    Returns
    -------
    summary : dict
        As :func:`model_summary`'s.
    """
    rows = [
        _row("fc2 output", "InputLayer", (4096,), 0, False),
        _row("temperature", "Lambda (x / T)", (4096,), 0, False),
        _row(
            "predictions",
            "Dense (frozen, softmax)",
            (1000,),
            _weights_of("predictions", TOP_INPUT_SIZE),
            False,
        ),
        _row("softmax", "Dense (new, softmax)", (n_classes,), 1000 * n_classes + n_classes, True),
    ]
    return _totals(rows)


def format_summary(summary, title="Model summary"):
    """The summary as a Markdown table, ``model.summary()``'s columns, with its totals.

    Parameters
    ----------
    summary : dict
        From :func:`model_summary` or :func:`temperature_model_summary`.
    title : str, default="Model summary"

    Returns
    -------
    text : str
    """
    lines = [title, "", "| layer | type | output shape | parameters | trainable |", "|---|---|---|---:|---|"]
    for r in summary["rows"]:
        shape = "(None, " + ", ".join(map(str, r["output_shape"])) + ")"
        trainable = "yes" if r["trainable"] else "no"
        lines.append(f"| {r['layer']} | {r['type']} | {shape} | {r['params']:,} | {trainable} |")
    lines += [
        "",
        f"Total parameters: {summary['total']:,}; trainable: {summary['trainable']:,}; "
        f"frozen: {summary['frozen']:,}.",
    ]
    return "\n".join(lines)
