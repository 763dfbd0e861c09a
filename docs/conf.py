"""Sphinx configuration for the sklvgg documentation."""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("SKLVGG_EXAMPLES_OUT", str(HERE / "_build" / "examples_output"))

import sklvgg  # noqa: E402

project = "sklvgg"
author = "the sklvgg developers"
copyright = "2026, the sklvgg developers"
release = version = sklvgg.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip"]
html_theme = "pydata_sphinx_theme"
html_title = "sklvgg"
html_theme_options = {"navigation_depth": 2, "show_toc_level": 2}
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
autodoc_typehints = "none"
intersphinx_mapping = {}  # offline build: no inventories fetched
suppress_warnings = ["config.cache", "myst.header"]
nitpicky = False


def _example_argv(sphinx_gallery_conf, script_vars):
    """Run the gallery at its smallest settings."""
    return ["--input-size", "32", "--n-classes", "3"]


sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "reset_argv": _example_argv,
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "capture_repr": ("_repr_html_", "__repr__"),
    "plot_gallery": "True",
}
