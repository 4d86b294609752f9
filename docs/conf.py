"""Sphinx configuration: the documentation site, built from the Markdown pages in docs/
(MyST) with README.md as its front page.

    pip install -e ".[docs]"
    sphinx-build -W --keep-going -b html docs docs/_build/html
"""

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

project = "deap_nas"
author = "deap_nas contributors"
release = re.search(r'__version__ = "([^"]+)"', (ROOT / "deap_nas" / "__init__.py").read_text()).group(1)
version = release

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
# results_intro.md is the --intro fragment of `deap-nas results`: its text opens results.md.
exclude_patterns = ["_build", "results_intro.md"]

# Links to `page.md#a-heading` resolve for headings down to ###, with GitHub's slugs, so
# that the pages read the same on GitHub and in the site.
myst_heading_anchors = 3

html_theme = "furo" if importlib.util.find_spec("furo") else "alabaster"
html_title = f"deap_nas {release}"
