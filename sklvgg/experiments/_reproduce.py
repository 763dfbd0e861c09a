"""One experiment of the report, run end to end on a dataset: what ``reproduce`` calls.

:func:`run_experiment` builds the pipeline of the protocol, runs the experiment,
sets the report's numbers beside the run's and draws the figures; it returns
plain results (with the figures under ``"figures"``) and writes nothing. The
command line parses, calls this, prints and saves.
"""

from sklearn.base import clone

from ..exceptions import InputError
from ..summary import model_summary, temperature_model_summary
from ._comparison import compare_with_report, study_reference
from ._figures import experiment_figures, filter_figures, report_figure_files, temperature_stand_ins
from ._protocol import HOLDOUT_FRACTION, first_classes, make_pipeline
from ._report import REPORT_TEMPERATURES
from ._runs import filters_and_activations, layer_cuts, temperature_sweep, training_and_learning_curves
from ._setting import cut_pooling, resolve_setting

#: The learning curve's sizes (images per class), as many as the split allows.
PER_CLASS = (1, 2, 4, 8, 16, 32, 64, 128)


def _merge(results, part, key, keep_rows=True):
    """Nest ``part``'s numbers under ``key``; its tables (and rows, kept or CSV only) join ``results``'."""
    for name, rows in part.pop("tables", {}).items():
        results.setdefault("tables", {})[f"{key}_{name}"] = rows
    if part.get("rows"):
        results.setdefault("tables", {})[key] = part["rows"] if keep_rows else part.pop("rows")
    results[key] = part


def _learning(data, pipe, setting, split):
    reference, comparable = study_reference(setting)
    results = training_and_learning_curves(
        data, pipe, per_class=PER_CLASS, reference=reference, comparable=comparable, **split
    )
    if setting.experiment == "urban-tribes" and setting.cut_layer is not None:
        cut = layer_cuts(data, pipe, layers=[setting.cut_layer], pooling=None, n_classes=None, **split)
        _merge(results, cut, "cut")
    return results


def _model_summaries(results, setting):
    """``[(title, summary)]``: the network each part of the run trained, as ``model.summary()`` would say."""
    if setting.experiment == "temperature":
        return [
            (f"Temperature model, {k} classes (the report's: fc2 / T, frozen predictions, new softmax)",
             temperature_model_summary(int(k)))
            for k in results["sweeps"]
        ]  # fmt: skip
    cuts = setting.layers if setting.experiment == "layers" else (setting.layer,)
    k = setting.n_classes
    return [
        (f"{layer} ({cut_pooling(layer, setting.pooling)}), {k} classes",
         model_summary(layer, k, input_size=setting.input_size, pooling=setting.pooling))
        for layer in cuts
    ]  # fmt: skip


def run_experiment(
    experiment, data, *, dataset, weights, protocol="study", epochs=None, preprocessing=None, memory=None,
    layer=None, pooling="auto", input_size=224, split="per-class", n_train=16, n_test=4,
    holdout=HOLDOUT_FRACTION, n_classes=None, layers=("block4_pool", "block5_pool"), cut_layer="block3_pool",
    temperatures=REPORT_TEMPERATURES, temperature_on=None, figures="combined", verbose=1,
):  # fmt: skip
    """Run one of the report's experiments and compare it with the report.

    The options are resolved once into a :class:`RunSetting`
    (:func:`resolve_setting`); every later step reads it, and the verdict
    (comparable or not, and why) is :func:`compare_settings`' alone.

    Parameters
    ----------
    experiment : {"caltech256", "urban-tribes", "layers", "temperature"}
    data : Bunch
        From :mod:`sklvgg.datasets`.
    dataset : str
        What ``data`` is, for the comparison (``"caltech256"``,
        ``"urban-tribes"`` or anything else).
    weights : {"imagenet", "hed-bsds500"}, path-like, dict or None
        VGG16's weights, as :class:`~sklvgg.VGG16FeatureTransformer` takes them.
    protocol : {"study", "tuned"}, default="study"
    epochs : int, optional
    preprocessing : {"caffe", "none", "samplewise"}, optional
        Default: :func:`default_preprocessing` of ``protocol``.
    memory : path-like, optional
        The feature cache.
    layer, pooling, input_size
        The cut of ``"caltech256"`` and ``"urban-tribes"`` (``pooling`` also
        of ``"layers"``; ``"auto"``: average pooling for a conv or pool cut,
        none for a dense one, flattened for ``"layers"``); ``input_size`` of
        all but ``"temperature"`` (224).
    split : {"per-class", "holdout"}, default="per-class"
    n_train, n_test : int, default=16, 4
    holdout : float, default=HOLDOUT_FRACTION
    n_classes : int or sequence of int, optional
        The first classes (a sequence: one temperature sweep each).
    layers : sequence of str
        The cuts of ``"layers"``, distinct.
    cut_layer : str or None, default="block3_pool"
        The flattened cut of ``"urban-tribes"`` (None: none).
    temperatures : sequence of float
    temperature_on : {"fc2", "logits"}, optional
        Default: ``"fc2"`` with the study protocol, ``"logits"`` otherwise.
    figures : {"combined", "report"}, default="combined"
        The figure style (see :func:`experiment_figures`).
    verbose : int, default=1
        Of the transformers.

    Returns
    -------
    results : dict
        The experiment's results, plus ``setting`` (what the run used: the
        :class:`RunSetting` as data, with the weights per part and the seeds),
        ``report_vs_run`` (:func:`compare_with_report`'s table),
        ``model_summary`` (``{title: summary}``), ``figures`` (name ->
        Figure) and ``report_figures`` (report figure number -> figure name).
    """
    setting = resolve_setting(
        experiment, data, dataset=dataset, weights=weights, protocol=protocol, epochs=epochs,
        preprocessing=preprocessing, layer=layer, pooling=pooling, input_size=input_size, split=split,
        n_train=n_train, n_test=n_test, holdout=holdout, n_classes=n_classes, layers=layers,
        cut_layer=cut_layer, temperatures=temperatures, temperature_on=temperature_on,
    )  # fmt: skip
    if figures not in ("combined", "report"):
        raise InputError(f"figures must be 'combined' or 'report'; got {figures!r}.")
    common = dict(weights=setting.weights, memory=memory, verbose=verbose, protocol=protocol,
                  epochs=setting.epochs, preprocessing=setting.preprocessing, input_size=setting.input_size,
                  pooling=setting.pooling)  # fmt: skip
    split_options = dict(n_train=n_train, n_test=n_test)
    image = None
    if experiment == "temperature":
        pipe = make_pipeline(layer="predictions", temperature_on=setting.temperature_on, **common)
        results = temperature_sweep(
            data, pipe, temperatures=setting.temperatures, class_counts=setting.n_classes, **split_options,
            baseline=make_pipeline(layer="fc2", **common), note=setting.note,
        )  # fmt: skip
    else:
        split_options.update(split=setting.split, holdout=holdout)
        data = first_classes(data, setting.n_classes)
        if experiment == "layers":
            pipe = make_pipeline(layer=setting.layers[0], **common)
            results = layer_cuts(data, pipe, layers=setting.layers, pooling=setting.pooling, n_classes=None,
                                 **split_options)  # fmt: skip
        else:
            pipe = make_pipeline(layer=setting.layer, **common)
            results = _learning(data, pipe, setting, split_options)
            image = data.filenames[0]
    results["setting"] = record = _record(setting, pipe, data)
    table = compare_with_report(results, setting, record=record)
    results["report_vs_run"] = table
    results.setdefault("tables", {})["report_vs_run"] = table["rows"]
    results["model_summary"] = dict(_model_summaries(results, setting))
    drawn = experiment_figures(experiment, results, style=figures, table=table)
    if image is not None:
        vgg = clone(pipe[0]).set_params(layer="block5_conv3", pooling=None, verbose=0).fit([image])
        _merge(results, filters_and_activations(vgg, image), "activations", keep_rows=False)
        drawn.update(filter_figures(vgg, image, experiment=experiment, style=figures))
    results["report_figures"] = report_figure_files(experiment, results, drawn, style=figures)
    results["report_figure_notes"] = _report_figure_notes(experiment, results)
    results["figures"] = drawn
    return results


def _record(setting, pipe, data):
    """The setting as data, with what only a fitted transformer says: the weights per part, the seeds."""
    vgg = clone(pipe[0])
    vgg.set_params(layer=list(setting.layers) if setting.layers else vgg.layer)
    vgg.fit(data.filenames[:1])  # resolves the weights, reads no image
    record = setting.to_dict()
    seeds = {"transformer": vgg.random_state, "head": pipe[-1].random_state, "split": 0}
    record.update(
        weights=vgg.weights_parts_, weights_id=vgg.weights_id_, seeds=seeds, precision=vgg.precision_
    )
    return record


def _report_figure_notes(experiment, results):
    """``{report figure: words}`` where this run's figure stands for another cut or class count."""
    cut = [row["layer"] for row in results.get("cut", {}).get("rows", [])]
    if experiment == "urban-tribes" and cut and cut[0] != "block3_pool":
        return {n: f"this run's flattened {cut[0]}; the report's block3_pool" for n in (14, 15, 16, 17)}
    if experiment != "temperature":
        return {}
    stand_ins = temperature_stand_ins(results["sweeps"])
    return {
        n: f"this run's {stand_ins[k]} classes; the report's {k}"
        for n, k in ((18, 64), (19, 256), (20, 64), (21, 256))
        if k in stand_ins and stand_ins[k] != k
    }
