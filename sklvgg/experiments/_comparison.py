"""The report's numbers beside a run's: which settings differ, and each number's row.

Plain computation: the rows come back as data (:func:`compare_with_report`), the
Markdown and the files are :mod:`._output`'s, the reference lines on the
figures :mod:`._figures`'.
"""

from pathlib import Path

import numpy as np

from ._report import IMAGENET_BIASES, REPORT_SETTINGS, REPORT_VALUES, STUDY_REFERENCE


def _imagenet(weights):
    """``"imagenet"`` for Keras' published files, or any file of the ImageNet-trained network.

    A file is recognised by its values (the first biases of its first and last conv layers),
    whatever its name: Keras' downloads, the ImageNet conv layers written as a
    Keras 3 file.
    """
    from .._weights import IMAGENET_FILES, _weight_pairs

    if weights is None or weights in ("imagenet", "hed-bsds500"):
        return weights
    path = Path(weights)
    if path.name in {url.rsplit("/", 1)[1] for url, _ in IMAGENET_FILES.values()}:
        return "imagenet"
    try:
        pairs = _weight_pairs(path, load=set(IMAGENET_BIASES))
    except (OSError, ValueError):
        return weights
    same = all(np.allclose(pairs[layer][1][:3], bias, rtol=1e-6) for layer, bias in IMAGENET_BIASES.items())
    return "imagenet" if same else weights


def _why_not_comparable(experiment, run):
    """Reasons (words) why ``run`` is not in the setting of the report's ``experiment``."""
    setting = REPORT_SETTINGS[experiment]
    reasons = []
    if _imagenet(run.get("weights")) != "imagenet":
        reasons.append(
            f"without ImageNet weights (this run: {run.get('weights')}) the comparison is not meaningful"
        )
    if run.get("dataset") != setting["dataset"]:
        names = {"caltech256": "Caltech-256", "urban-tribes": "Urban Tribes"}
        reasons.append(f"this run's data is {run.get('dataset')}, the report's {names[setting['dataset']]}")
    if "layer" in setting and run.get("layer") != setting["layer"]:
        reasons.append(f"this run cuts at {run.get('layer')}, the report at {setting['layer']}")
    if run.get("protocol") is not None and run["protocol"] != setting["protocol"]:
        reasons.append(
            f"this run's head is --protocol {run['protocol']}, the report's a Keras Dense layer (study)"
        )
    if "temperature_on" in run and run["temperature_on"] != setting["temperature_on"]:
        reasons.append(f"this run divides the {run['temperature_on']} by T, the report the fc2 activations")
    if run.get("input_size") not in (None, 224):
        reasons.append(
            f"this run feeds {run['input_size']} x {run['input_size']} images, the report 224 x 224 "
            f"(other feature maps, other feature counts)"
        )
    if run.get("preprocessing") not in (None, "none"):
        reasons.append(
            f"this run preprocesses with {run['preprocessing']!r}, the report fed RGB 0-255 as it was "
            f"('none': sklvgg's reading of its section 1.1 (b))"
        )
    return reasons


def _run_setting(dataset, weights, layer, protocol, temperature_on, input_size, preprocessing):
    """A run's setting as :func:`_why_not_comparable` reads it."""
    run = {"dataset": dataset, "weights": weights, "layer": layer, "protocol": protocol}
    run.update(input_size=input_size, preprocessing=preprocessing)
    if temperature_on is not None:
        run["temperature_on"] = temperature_on
    return run


def study_reference(
    *, dataset, weights, layer, experiment="caltech256", protocol=None, temperature_on=None, input_size=None,
    preprocessing=None,
):  # fmt: skip
    """The study's reference point, labelled, and whether a run can be compared with it.

    Parameters
    ----------
    dataset : str
        What the run uses: ``"caltech256"`` for the real Caltech-256,
        ``"urban-tribes"`` for Urban Tribes (any other value, such as
        ``"embedded default"`` or ``"folder"``, is another dataset).
    weights : str, path-like or None
        The run's VGG16 weights; a path to one of Keras' published ImageNet
        files counts as ``"imagenet"``.
    layer : str
        The run's cut.
    experiment : {"caltech256", "urban-tribes", "layers", "temperature"}, default="caltech256"
        Whose setting (:data:`REPORT_SETTINGS`) to compare with.
    protocol : {"study", "tuned"}, optional
        The run's head; not checked when None.
    temperature_on : {"logits", "fc2"}, optional
        The run's temperature form; not checked when None.
    input_size, preprocessing : optional
        The run's image side and preprocessing; not checked when None.

    Returns
    -------
    reference : dict
        ``{label: {images_per_class: accuracy}}`` for the accuracy-vs-images
        curve: the report's ~65% at 16 per class (Caltech-256, ImageNet,
        ``fc2``) for ``"caltech256"``; empty for the others, whose report
        states no such point.
    comparable : bool
        Whether the run has the report's setting; pass it to
        :func:`training_and_learning_curves` and :func:`compare_with_report`.

    Examples
    --------
    >>> from sklvgg.experiments import study_reference
    >>> reference, comparable = study_reference(dataset="caltech256", weights="imagenet", layer="fc2")
    >>> comparable, list(reference.values())
    (True, [{16: 0.65}])
    """
    run = _run_setting(dataset, weights, layer, protocol, temperature_on, input_size, preprocessing)
    reference = {}
    if experiment == "caltech256":
        label = "report: ~65% at 16/class\n(Caltech-256, ImageNet weights, fc2)"
        reference = {label: dict(STUDY_REFERENCE)}
    return reference, not _why_not_comparable(experiment, run)


def _pct(value):
    return "-" if value is None else f"{100 * value:.1f}%"


def _t(temperature):
    """A best temperature in words: None where every score was NaN."""
    return "none (every score NaN)" if temperature is None else f"{temperature:g}"


def log2_fit(images_per_class, accuracy):
    """Least-squares line of accuracy against log2(images per class): slope, intercept, R^2.

    Parameters
    ----------
    images_per_class, accuracy : sequence of float

    Returns
    -------
    fit : dict or None
        ``{"slope", "intercept", "r2"}`` (the slope in accuracy per doubling),
        or None for fewer than three sizes.
    """
    x, y = np.log2(np.asarray(images_per_class, dtype=float)), np.asarray(accuracy, dtype=float)
    if len(x) < 3:
        return None
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    total = float(((y - y.mean()) ** 2).sum())
    return {"slope": float(slope), "intercept": float(intercept),
            "r2": 1.0 - float((residual**2).sum()) / total if total else 1.0}  # fmt: skip


def _compare_temperatures(sweep, near):
    """Words and numbers: the best maximum accuracy at the T nearest ``near`` vs. at T = 1."""
    temperatures = np.asarray(sweep["temperatures"], dtype=float)
    if 1.0 not in temperatures:
        return "no T = 1 in this sweep"
    there, one = int(np.argmin(np.abs(temperatures - near))), int(np.flatnonzero(temperatures == 1.0)[0])
    helps = sweep["max"][there] > sweep["max"][one]
    return (f"{_pct(sweep['max'][there])} at T {temperatures[there]:g} vs. {_pct(sweep['max'][one])} at T 1: "
            f"{'helps' if helps else 'does not help'}")  # fmt: skip


def _above_below(sweep, threshold):
    """Words and numbers: mean maximum accuracy of the temperatures above ``threshold`` vs. the others."""
    temperatures, best = np.asarray(sweep["temperatures"], dtype=float), np.asarray(sweep["max"], dtype=float)
    above, below = best[temperatures > threshold], best[temperatures <= threshold]
    if not len(above) or not len(below):
        return f"this sweep has no T on both sides of {threshold:g}"
    hurts = above.mean() < below.mean()
    return f"{_pct(above.mean())} vs. {_pct(below.mean())}: {'hurts' if hurts else 'does not hurt'}"


def _learning_rows(experiment, results):
    """``{key: this run's value, in words}`` for the Caltech-256 and Urban Tribes rows."""
    if experiment == "caltech256":
        fit = log2_fit(results.get("per_class", []), results.get("per_class_accuracy", []))
        return {
            "final_training_loss": f"{results['final_training_loss']:.3f}",
            "final_validation_loss": f"{results['final_validation_loss']:.3f}",
            "final_training_accuracy": _pct(results["final_training_accuracy"]),
            "test_accuracy": _pct(results["test_accuracy"]),
            "log2_fit": "too few sizes to fit"
            if fit is None
            else f"{_pct(fit['slope'])} per doubling, R^2 {fit['r2']:.2f} against log2(images per class)",
        }
    values = {
        "final_training_accuracy": _pct(results["final_training_accuracy"]),
        "max_test_accuracy": _pct(results["max_test_accuracy"]),
    }
    for cut in results.get("cut", {}).get("rows", []):
        if cut["layer"] == "block3_pool" and cut["pooling"] == "flatten":
            values["cut_block3_pool"] = (
                f"{_pct(cut['final_validation_accuracy'])} (chance {_pct(cut['chance'])})"
            )
    return values


def _temperature_rows(sweeps):
    """``{key: this run's value}``: each report row against the sweep of its own class count."""
    ran = ", ".join(sorted(sweeps, key=int))
    not_run = f"not run (this run's class counts: {ran})"
    s64, s256 = sweeps.get("64"), sweeps.get("256")
    best = None if s256 is None or np.isnan(s256["max"]).all() else int(np.nanargmax(s256["max"]))
    return {
        "best_t_64": not_run
        if s64 is None
        else f"{_t(s64['best_max_temperature'])} (maximum), {_t(s64['best_final_temperature'])} (final)",
        "best_max_t_256": not_run if s256 is None else _t(s256["best_max_temperature"]),
        "best_max_256": not_run
        if s256 is None
        else "-"
        if best is None
        else f"{_pct(s256['max'][best])} (T {s256['temperatures'][best]:g})",
        "best_final_t_256": not_run if s256 is None else _t(s256["best_final_temperature"]),
        "t2_helps_64": not_run if s64 is None else _compare_temperatures(s64, 2.0),
        "above_1.5_hurts_256": not_run if s256 is None else _above_below(s256, 1.5),
    }


def _row(experiment, key, this_run, **fields):
    quantity, report, source, figure, reference = REPORT_VALUES[experiment][key]
    row = {"quantity": quantity.format(**fields), "report": report, "this run": this_run, "source": source}
    return row, {"figure": figure, "spec": reference} if reference else None


def report_rows(experiment, results):
    """The report's numbers beside the run's, and the reference lines that go with them.

    Parameters
    ----------
    experiment : {"caltech256", "urban-tribes", "layers", "temperature"}
    results : dict
        From the experiment's function.

    Returns
    -------
    rows : list of dict
        ``{"quantity", "report", "this run", "source"}``, in the report's order.
    references : list of dict
        ``{"figure", "spec"}`` (a report figure number and what to draw on it,
        see :data:`REPORT_VALUES`) or ``{"n_classes", "spec"}`` (a line of the
        run's own, on the temperature sweep of that class count).
    """
    pairs = []
    if experiment in ("caltech256", "urban-tribes"):
        values = _learning_rows(experiment, results)
        n_train = results.get("images_per_class_trained")
        pairs = [_row(experiment, key, values[key], n_train=n_train)
                 for key in REPORT_VALUES[experiment] if key in values]  # fmt: skip
    elif experiment == "layers":
        for cut in results["rows"]:
            if cut["layer"] in ("block4_pool", "block5_pool") and cut["pooling"] == "flatten":
                learns = cut["final_validation_accuracy"] > 2 * cut["chance"]
                this_run = f"{_pct(cut['final_validation_accuracy'])} (chance {_pct(cut['chance'])}): " + (
                    "learns (above twice chance)" if learns else "no learning (at most twice chance)"
                )
                pairs.append(
                    _row("layers", "no_learning", this_run, layer=cut["layer"], n_classes=cut["n_classes"])
                )
    elif experiment == "temperature":
        sweeps = results["sweeps"]
        pairs = [_row("temperature", key, value) for key, value in _temperature_rows(sweeps).items()]
        for k in sorted(sweeps, key=int):  # every sweep against its own fc2 head, drawn on its figure
            sweep, base = sweeps[k], sweeps[k].get("baseline")
            if not base:
                continue
            worse = np.nanmax(sweep["max"]) < base["max"]
            this_run = (f"{_pct(np.nanmax(sweep['max']))} vs. {_pct(base['max'])}: temperature "
                        f"{'worse' if worse else 'not worse'}")  # fmt: skip
            row, _ = _row("temperature", "vs_fc2", this_run, layer=base["layer"], n_classes=k)
            spec = {"y": base["max"], "label": f"this run: {base['layer']} maximum"}
            pairs.append((row, {"n_classes": k, "spec": spec}))
    return [row for row, _ in pairs], [ref for _, ref in pairs if ref]


def compare_with_report(
    results, experiment, *, dataset, weights, layer=None, protocol=None, temperature_on=None,
    input_size=None, preprocessing=None, setting=None,
):  # fmt: skip
    """Set the report's numbers beside the run's.

    Parameters
    ----------
    results : dict
        From the experiment's function (for ``"urban-tribes"``, with the
        flattened cut in ``results["cut"]``). Not modified.
    experiment : {"caltech256", "urban-tribes", "layers", "temperature"}
    dataset, weights, layer, protocol, temperature_on
        The run's setting, as for :func:`study_reference`.
    input_size, preprocessing : optional
        The run's image side and preprocessing, when known: listed among the
        differences where they are not the report's (224, ``"none"``).
    setting : dict, optional
        Everything the run used (weights per part of the network, input size,
        preprocessing, head, class count, seeds; see
        :func:`~sklvgg.experiments.run_experiment`): written at the head of
        the table.

    Returns
    -------
    table : dict
        ``{"title", "comparable", "reasons", "rows", "references", "text"}``:
        ``rows`` are ``{"quantity", "report", "this run", "source"}`` (the
        report's value with its figure or section), ``references`` the lines
        to draw on the figures (see :func:`report_rows`; drawn in grey and
        marked "not comparable with this run" when the settings differ),
        ``text`` the table in Markdown, headed "Report vs. this run" and, if
        the settings differ, why the numbers are not comparable.
    """
    from ._output import report_table_markdown

    run = _run_setting(dataset, weights, layer, protocol, temperature_on, input_size, preprocessing)
    reasons = _why_not_comparable(experiment, run)
    rows, references = report_rows(experiment, results)
    table = {
        "title": f"Report vs. this run ({experiment})",
        "comparable": not reasons,
        "reasons": reasons,
        "rows": rows,
        "references": references,
        "setting": setting,
    }
    table["text"] = report_table_markdown(table)
    return table
