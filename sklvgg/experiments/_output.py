"""Files and Markdown: every byte ``reproduce`` writes goes through here."""

import csv
import json
from pathlib import Path

from ..summary import format_summary
from ._report import REPORT_FIGURES


def _setting_text(setting):
    """What a run used, in one paragraph."""
    weights = setting.get("weights")
    if isinstance(weights, dict):
        parts = [f"weights: {'; '.join(f'{part}: {what}' for part, what in weights.items())}"]
    else:
        parts = [f"weights: {weights}"]
    for key, label in (("dataset", "data"), ("n_classes", "classes"), ("split", "split"),
                       ("n_train", "training images per class"), ("n_test", "validation images per class"),
                       ("holdout", "holdout fraction"), ("epochs", "epochs"), ("input_size", "input size"),
                       ("preprocessing", "preprocessing"), ("layer", "layer"), ("layers", "layers"),
                       ("cut_layer", "flattened cut"), ("pooling", "pooling"),
                       ("temperature_on", "temperature on"), ("precision", "precision"),
                       ("protocol", "head")):  # fmt: skip
        if setting.get(key) not in (None, [], ()):
            value = setting[key]
            parts.append(f"{label}: {', '.join(map(str, value)) if isinstance(value, list) else value}")
    if setting.get("head"):
        parts.append("head settings: " + ", ".join(f"{k} {v}" for k, v in setting["head"].items()))
    if setting.get("seeds"):
        parts.append("seeds: " + ", ".join(f"{k} {v}" for k, v in setting["seeds"].items()))
    return "This run: " + "; ".join(parts) + "."


def report_table_markdown(table):
    """The "report vs. this run" table in Markdown.

    Parameters
    ----------
    table : dict
        ``{"title", "reasons", "caveats", "rows"}``, from
        :func:`~sklvgg.experiments.compare_with_report`.

    Returns
    -------
    text : str
        The title, what the run used (``table["setting"]``, when given),
        "NOT COMPARABLE: ..." naming each difference from what the report
        states, or "Comparable, with caveats: ..." naming each assumption, then
        the table.
    """
    lines = [table["title"], ""]
    if table.get("setting"):
        lines += [_setting_text(table["setting"]), ""]
    if table["reasons"]:
        lines += [f"NOT COMPARABLE: {'; '.join(table['reasons'])}.", ""]
    caveats = table.get("caveats") or []
    if caveats:
        head = "Caveats" if table["reasons"] else "Comparable, with caveats (where the report is silent)"
        lines += [f"{head}: {'; '.join(caveats)}.", ""]
    lines += ["| quantity | report | this run | source |", "|---|---|---|---|"]
    lines += [f"| {r['quantity']} | {r['report']} | {r['this run']} | {r['source']} |" for r in table["rows"]]
    return "\n".join(lines)


def _png_name(name, key):
    """A report figure keeps its own name (``figure_01_loss.png``); others get the experiment's prefix."""
    return f"{key}.png" if key.startswith("figure_") else f"{name}_{key}.png"


def figure_files_markdown(name, report_figures, notes=None):
    """Which file holds each report figure, as a Markdown list.

    Parameters
    ----------
    name : str
        The experiment (the prefix of its files).
    report_figures : dict
        ``{number: figure key or None}`` (from
        :func:`~sklvgg.experiments.report_figure_files`).
    notes : dict, optional
        ``{number: words}`` added after a figure's file (e.g. which class
        count stands for the report's).

    Returns
    -------
    text : str
    """
    lines = ["Files per report figure", ""]
    for number, key in sorted(report_figures.items()):
        what, axis = REPORT_FIGURES[number][2], REPORT_FIGURES[number][3]
        where = "not drawn by this run" if key is None else f"`{_png_name(name, key)}`"
        note = (notes or {}).get(number)
        where += f" ({note})" if note else ""
        lines.append(f"- Figure {number} ({what}{f'; x: {axis}' if axis else ''}): {where}")
    return "\n".join(lines)


def _manifest_path(out, name):
    return Path(out) / f"{name}_manifest.json"


def _remove_previous(out, name):
    """Remove the files the previous run of ``name`` listed in its manifest, and only those.

    A file sklvgg did not write (not in the manifest, or not a plain file under
    ``out``) is never touched; an unreadable manifest removes nothing.
    """
    manifest = _manifest_path(out, name)
    try:
        listed = json.loads(manifest.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    root = Path(out).resolve()
    for entry in listed if isinstance(listed, list) else []:
        path = (root / str(entry)).resolve()
        if path.parent == root and path.is_file() and not path.is_symlink():
            path.unlink()


def save_results(results, out, name, *, figures=None, report_figures=None):
    """Write ``results``' figures as PNG and its numbers as JSON and CSV.

    Each run owns what ``out`` shows for ``name``: the files it writes are
    listed in ``<name>_manifest.json``, and the files the previous run of
    ``name`` listed there are removed first (a second run that draws fewer
    figures leaves none of the first run's). Files sklvgg did not write are
    never touched.

    Parameters
    ----------
    results : dict
        Optionally with ``figures`` (a dict of matplotlib figures), ``rows`` (a list of
        dicts written as ``<name>.csv``), ``tables`` (``{key: rows}``, each
        written as ``<name>_<key>.csv``), ``model_summary`` (``{title:
        summary}``, written as ``<name>_model_summary.md``, the counts also in
        the JSON) and ``report_vs_run`` (from
        :func:`compare_with_report`, also written as ``<name>_report_vs_run.md``).
    out : path-like
    name : str
    figures : dict of str to Figure, optional
        Written as ``<name>_<key>.png`` (``<key>.png`` for the report's
        ``figure_NN_...``); default ``results["figures"]``.
    report_figures : dict, optional
        ``{number: figure key or None}``: listed in ``<name>_report_vs_run.md``
        below the table, which file stands for each report figure.

    Returns
    -------
    paths : list of pathlib.Path
        The files written, the manifest last.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _remove_previous(out, name)
    written = []
    figures = results.get("figures", {}) if figures is None else figures
    for key, fig in figures.items():
        path = out / _png_name(name, key)
        fig.savefig(path, dpi=90)
        written.append(path)
    numbers = {k: v for k, v in results.items() if k not in ("figures", "tables", "model_summary")}
    if results.get("model_summary"):  # the counts in JSON, the layer tables in Markdown
        summaries = results["model_summary"]
        numbers["model_summary"] = {
            t: {k: v for k, v in s.items() if k != "rows"} for t, s in summaries.items()
        }
        path = out / f"{name}_model_summary.md"
        path.write_text("\n\n".join(format_summary(s, title) for title, s in summaries.items()) + "\n")
        written.append(path)
    path = out / f"{name}.json"
    path.write_text(json.dumps(numbers, indent=2, default=str))
    written.append(path)
    tables = {"": results.get("rows"), **{f"_{k}": v for k, v in results.get("tables", {}).items()}}
    for suffix, rows in tables.items():
        if not rows:
            continue
        path = out / f"{name}{suffix}.csv"
        fields = list(dict.fromkeys(key for row in rows for key in row))
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        written.append(path)
    if results.get("report_vs_run"):
        path = out / f"{name}_report_vs_run.md"
        text = results["report_vs_run"]["text"]
        if report_figures:
            text += "\n\n" + figure_files_markdown(name, report_figures, results.get("report_figure_notes"))
        path.write_text(text + "\n")
        written.append(path)
    path = _manifest_path(out, name)
    path.write_text(json.dumps({"files": [p.name for p in written]}, indent=2) + "\n")
    written.append(path)
    return written
