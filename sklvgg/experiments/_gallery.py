"""The plumbing of the gallery's examples: their command-line options and data, in one call."""

import os
from pathlib import Path


def example_setup(description, *, layout="caltech256", n_classes=10, input_size=224, weights="hed-bsds500"):
    """Command-line options and data of a gallery example: the plumbing, in one call.

    Options: ``--data DIR`` (the real dataset; default: the embedded
    generated set), ``--weights`` (default ``hed-bsds500``, offline; ``none``
    for random weights), ``--input-size``, ``--n-classes`` (classes of the
    embedded default), ``--out`` (figures and cache; environment variable
    ``SKLVGG_EXAMPLES_OUT``). Unknown arguments are ignored, so sphinx-gallery
    can run the scripts.

    Parameters
    ----------
    description : str
    layout : {"caltech256", "urban-tribes"}, default="caltech256"
        Layout of ``--data`` and of the embedded default.
    n_classes : int, default=10
        Classes of the embedded default (``--n-classes`` wins).
    input_size : int, default=224
    weights : str or None, default="hed-bsds500"

    Returns
    -------
    args : argparse.Namespace
        ``data``, ``weights`` (None for ``none``), ``input_size``,
        ``n_classes``, ``out``, and ``dataset``: what the loader recognised
        (``layout`` when ``--data`` reads in that layout, ``"folder"`` for
        one folder per class, ``"embedded default"``), for the comparison.
    data : Bunch
        From :mod:`sklvgg.datasets`: ``filenames``, ``target``, ``DESCR``.
    """
    import argparse

    from ..datasets import load_caltech256, load_image_folder, load_urban_tribes, make_shapes_dataset

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", default=None, help="dataset folder (default: embedded generated set)")
    parser.add_argument("--weights", default=weights, help="imagenet, hed-bsds500, none or a weights file")
    parser.add_argument("--input-size", type=int, default=input_size)
    parser.add_argument("--n-classes", type=int, default=None, help="classes of the embedded default")
    parser.add_argument("--out", default=os.environ.get("SKLVGG_EXAMPLES_OUT", "sklvgg_examples_output"))
    args, _ = parser.parse_known_args()
    if args.weights in ("none", "None"):
        args.weights = None
    loader = {"caltech256": load_caltech256, "urban-tribes": load_urban_tribes}[layout]
    if args.data:
        try:
            data = loader(args.data)
            args.dataset = layout
        except ValueError:
            data = load_image_folder(args.data)
            args.dataset = "folder"
        return args, data
    args.dataset = "embedded default"
    n = args.n_classes or n_classes
    return args, loader(
        make_shapes_dataset(Path(args.out) / f"data-{layout}-{n}", n_classes=n, layout=layout)
    )
