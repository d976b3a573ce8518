"""Sphinx configuration of the hamodel documentation (``make docs``)."""

from __future__ import annotations

project = "hamodel"
author = "hamodel contributors"
copyright = "hamodel contributors"
release = "0.1.0"

extensions = ["hamodel.sphinx"]

# Every model of the repository gets a generated document under generated/.
hamodel_models = ["models/*.py"]
hamodel_output = "generated"

html_theme = "furo"
html_title = "hamodel"
html_static_path = ["_static"]
html_css_files = ["hamodel.css"]
html_last_updated_fmt = None
templates_path: list[str] = []
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**/*.rst.inc"]
nitpicky = False
# Quotes and ellipses only: "--fail-on" in the CLI reference must stay two hyphens.
smartquotes_action = "qe"
