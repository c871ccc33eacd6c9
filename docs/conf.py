"""Sphinx configuration for the sktangent documentation.

Build with ``sphinx-build -W --keep-going -b html . _build/html`` from this
folder. The build needs no network: intersphinx is not configured and the
gallery runs on generated data.
"""

import matplotlib

# The gallery executes examples while the docs build; there is no display.
matplotlib.use("Agg")

import sktangent

# -- Project information -----------------------------------------------------

project = "sktangent"
author = "The sktangent developers"
copyright = "2026, The sktangent developers"
release = sktangent.__version__
version = release

# -- General configuration ---------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"
default_role = "literal"

# -- autodoc, autosummary and numpydoc ----------------------------------------

autosummary_generate = True
autodoc_typehints = "none"

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# The build must work offline, so no inventories are fetched: references to
# other projects' objects render as plain text.
intersphinx_mapping = {}

# -- sphinx-gallery -----------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Only plot_*.py files run during the build; other scripts in examples/
    # (the quickstart) are rendered as listings without being executed.
    "filename_pattern": r"/plot_",
    "plot_gallery": "True",
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
}

# -- HTML output --------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"sktangent {release}"
html_static_path = ["_static"]
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_align": "left",
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
