"""Sphinx configuration of the spikelocal manual.

Build (warnings are errors): ``sphinx-build -W --keep-going -b html docs docs/_build/html``.
Pages are Markdown (MyST); the API reference comes from the docstrings (autodoc, napoleon)
and the YAML reference from the experiment schema (``_ext/yaml_reference.py``).
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))

project = "spikelocal"
author = "the spikelocal authors"
copyright = "the spikelocal authors"
from spikelocal import __version__ as release  # noqa: E402

version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "yaml_reference",
    "cli_reference",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "reference/_generated", "_ext"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
suppress_warnings = ["myst.header"]
nitpicky = False

html_theme = "furo"
html_title = f"spikelocal {release}"
html_static_path: list[str] = []


import re  # noqa: E402

_STAR = re.compile(r"(?<=[\[(, ])\*(?=[A-Za-z_])")


def _escape_shape_stars(app, what, name, obj, options, lines):
    """Docstrings write tensor shapes as ``[K, B, *out_shape]``; outside literals a lone ``*``
    would open an emphasis, so it is escaped."""
    for i, line in enumerate(lines):
        parts = line.split("``")
        for j in range(0, len(parts), 2):           # even parts are outside ``literals``
            parts[j] = _STAR.sub(r"\\*", parts[j])
        lines[i] = "``".join(parts)


def setup(app):
    app.connect("autodoc-process-docstring", _escape_shape_stars)
