"""The report's numbers beside a run's: which settings differ, and each number's row.

Plain computation: the rows come back as data (:func:`compare_with_report`), the
Markdown and the files are :mod:`._output`'s, the reference lines on the
figures :mod:`._figures`'.
"""

import numpy as np

from ._report import REPORT_ASSUMED, REPORT_READINGS, REPORT_STATED, REPORT_VALUES, STUDY_REFERENCE

_NAMES = {"caltech256": "Caltech-256", "urban-tribes": "Urban Tribes"}


def _run_value(run, field):
    """The run's value of a field of :data:`REPORT_STATED` / :data:`REPORT_ASSUMED`."""
    if field == "weights":
        return "imagenet" if run.is_imagenet else run.weights_label
    if field == "pooling":
        return run.pooling_label
    return getattr(run, field)


def _stated_difference(field, run, value, where):
    """Words for a run that differs from the report's stated ``value`` of ``field``, or None."""
    mine = _run_value(run, field)
    if field == "layers":
        extra = [cut for cut in mine if cut not in value]
        if not extra:
            return None
        return f"this run cuts at {', '.join(extra)}, the report at {' and '.join(value)} only ({where})"
    if mine == value:
        return None
    if field == "weights":
        return f"without ImageNet weights (this run: {mine}) the comparison is not meaningful"
    if field == "dataset":
        return f"this run's data is {mine}, the report's {_NAMES[value]} ({where})"
    if field == "protocol":
        return f"this run's head is --protocol {mine}, the report's a Keras Dense layer (study) ({where})"
    if field == "temperature_on":
        return f"this run divides the {mine} by T, the report the fc2 activations ({where})"
    if field == "input_size":
        return (f"this run feeds {mine} x {mine} images, the report 224 x 224 (other feature maps, other "
                f"feature counts; {where})")  # fmt: skip
    if field == "n_classes":
        said = lambda k: " and ".join(map(str, k)) if isinstance(k, tuple) else str(k)  # noqa: E731
        return f"this run has {said(mine)} classes, the report {said(value)} ({where})"
    if field in ("n_train", "n_test"):
        if mine is None:  # another split: named by its own difference
            return None
        part = "training" if field == "n_train" else "validation"
        return f"this run has {mine} {part} images per class, the report {value} ({where})"
    if field == "cut_layer":
        return f"this run's flattened cut is {mine or 'none'}, the report's {value} ({where})"
    if field == "pooling":
        return f"this run pools the conv cuts with {mine}, the report flattened them ({where})"
    return f"this run's {field} is {mine}, the report's {value} ({where})"


def compare_settings(report, run):
    """The differences between the report's setting and a run's, in two lists.

    Parameters
    ----------
    report : dict
        ``{"stated": {field: (value, where)}, "assumed": {field: (sklvgg's
        value, why)}, "readings": (words, ...)}``: what the report states of an
        experiment, and what sklvgg assumes where it is silent
        (:func:`report_setting`).
    run : RunSetting
        The run's setting, from :func:`~sklvgg.experiments.resolve_setting`.

    Returns
    -------
    reasons : list of str
        Each difference from what the report states: the run is not
        comparable with the report.
    caveats : list of str
        Each difference from an assumption sklvgg made where the report is
        silent, and the readings that hold for every run: the run stays
        comparable.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.utils import Bunch
    >>> from sklvgg.experiments import compare_settings, report_setting, resolve_setting
    >>> data = Bunch(target=np.repeat(np.arange(256), 20))
    >>> run = resolve_setting("caltech256", data, dataset="caltech256", weights="imagenet", epochs=2)
    >>> reasons, caveats = compare_settings(report_setting("caltech256"), run)
    >>> reasons, caveats[0][:10]
    ([], 'epochs: th')
    """
    reasons = []
    for field, (value, where) in report["stated"].items():
        difference = _stated_difference(field, run, value, where)
        if difference:
            reasons.append(difference)
    caveats = []
    for field, (value, why) in report["assumed"].items():
        mine = _run_value(run, field)
        if mine is None or mine == value:
            continue
        caveats.append(f"{field}: this run {mine!r}, sklvgg assumes {value!r} where {why}")
    if run.experiment == "urban-tribes" and run.preprocessing == "none":
        caveats.append(f"preprocessing: {report['assumed']['preprocessing'][1]}")
    caveats += list(report["readings"])
    return reasons, caveats


def report_setting(experiment):
    """The report's setting of ``experiment``, as :func:`compare_settings` reads it.

    Parameters
    ----------
    experiment : {"caltech256", "urban-tribes", "layers", "temperature"}

    Returns
    -------
    report : dict
        ``{"stated", "assumed", "readings"}`` from :data:`REPORT_STATED`,
        :data:`REPORT_ASSUMED` and :data:`REPORT_READINGS`.
    """
    return {"stated": REPORT_STATED[experiment], "assumed": REPORT_ASSUMED[experiment],
            "readings": REPORT_READINGS[experiment]}  # fmt: skip


def study_reference(setting):
    """The study's reference point, labelled, and whether a run can be compared with it.

    Parameters
    ----------
    setting : RunSetting
        The run's setting (:func:`~sklvgg.experiments.resolve_setting`).

    Returns
    -------
    reference : dict
        ``{label: {images_per_class: accuracy}}`` for the accuracy-vs-images
        curve: the report's ~65% at 16 per class (Caltech-256, ImageNet,
        ``fc2``) for ``"caltech256"``; empty for the others, whose report
        states no such point.
    comparable : bool
        :func:`compare_settings` found no difference from what the report
        states.
    """
    reasons, _ = compare_settings(report_setting(setting.experiment), setting)
    reference = {}
    if setting.experiment == "caltech256":
        label = "report: ~65% at 16/class\n(Caltech-256, ImageNet weights, fc2)"
        reference = {label: dict(STUDY_REFERENCE)}
    return reference, not reasons


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


def report_rows(experiment, results, setting=None):
    """The report's numbers beside the run's, and the reference lines that go with them.

    Parameters
    ----------
    experiment : {"caltech256", "urban-tribes", "layers", "temperature"}
    results : dict
        From the experiment's function.
    setting : RunSetting, optional
        The run's: its images per class are written beside the layer cuts'
        accuracies (the report's are 16 per class).

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
                per_class = "" if setting is None else (
                    f", {setting.n_train}/class" if setting.n_train else f", holdout {setting.holdout:g}"
                )  # fmt: skip
                this_run = (
                    f"{_pct(cut['final_validation_accuracy'])} (chance {_pct(cut['chance'])}; "
                    f"{cut['n_classes']} classes{per_class}): "
                ) + ("learns (above twice chance)" if learns else "no learning (at most twice chance)")
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


def compare_with_report(results, setting, *, record=None):
    """Set the report's numbers beside the run's, with the verdict of :func:`compare_settings`.

    Parameters
    ----------
    results : dict
        From the experiment's function (for ``"urban-tribes"``, with the
        flattened cut in ``results["cut"]``). Not modified.
    setting : RunSetting
        The run's setting (:func:`~sklvgg.experiments.resolve_setting`): the
        experiment, and everything the verdict weighs.
    record : dict, optional
        What the run used, for the table's head (default
        ``setting.to_dict()``; :func:`~sklvgg.experiments.run_experiment`
        adds the weights per part and the seeds).

    Returns
    -------
    table : dict
        ``{"title", "comparable", "reasons", "caveats", "rows", "references",
        "setting", "text"}``: ``reasons`` the differences from what the report
        states (``comparable`` is that there are none), ``caveats`` the
        differences from sklvgg's assumptions where it is silent; ``rows`` are
        ``{"quantity", "report", "this run", "source"}``, ``references`` the
        lines to draw on the figures (see :func:`report_rows`; grey and marked
        "not comparable with this run" when not comparable), ``text`` the
        table in Markdown.
    """
    from ._output import report_table_markdown

    experiment = setting.experiment
    reasons, caveats = compare_settings(report_setting(experiment), setting)
    rows, references = report_rows(experiment, results, setting)
    table = {
        "title": f"Report vs. this run ({experiment})",
        "comparable": not reasons,
        "reasons": reasons,
        "caveats": caveats,
        "rows": rows,
        "references": references,
        "setting": setting.to_dict() if record is None else record,
    }
    table["text"] = report_table_markdown(table)
    return table
