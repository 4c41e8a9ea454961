"""Sphinx configuration of the course book (issue 24).

book/stage.py copies this file into the staged source folder (`_build/src/conf.py`), next to the
staged notebooks, so every path below is relative to that folder. The notebooks arrive executed:
Sphinx never runs them.

Nothing is loaded from another host: MathJax 3, require.js and the widget renderer
(@jupyter-widgets/html-manager) are served from `_static/`, where book/site.py copies them from
book/node_modules (npm, with the committed book/package-lock.json). The theme's own fonts and icons
are bundled with it; its launch, repository and analytics features are off.
"""

project = "Networks for image classification"
author = "the course's authors"
copyright = "the course's authors; text under LICENSE-CONTENT.txt, code under LICENSE"

extensions = ["myst_nb"]

# The staged sources: index.md and notebooks/*.ipynb. `extra/` holds files served as they are
# (download/NN_name.ipynb), copied by Sphinx into the site's root.
exclude_patterns = ["_build", "_doctrees", "extra", "**.ipynb_checkpoints"]
html_extra_path = ["extra"]
html_static_path = ["_static"]

# The notebooks are executed before staging (book/execute.py); Sphinx only renders them.
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]

# MathJax 3 from the site itself (book/site.py copies node_modules/mathjax/es5 to _static/mathjax).
# A relative path is looked up under _static/ by Sphinx.
mathjax_path = "mathjax/tex-chtml.js"

# Code written for MathJax 2 (html-manager's typesetting of widget labels) calls MathJax.Hub:
# _static/mathjax2-shim.js (book/static) provides it on MathJax 3, loaded after it (priority 501).
html_js_files = [("mathjax2-shim.js", {"defer": "defer", "priority": 501})]

# Widgets: require.js; widgets-local.js (book/static), which tells require.js where the widget
# modules and their fonts are (_static/html-manager/) and points html-manager's fallback for
# modules it does not bundle (jsDelivr by default) at the site itself; then html-manager's AMD
# bundle, which holds @jupyter-widgets/base, controls and output (7 and 8), their CSS and fonts.
# Widgets of any other module (ipycanvas) are removed by book/stage.py.
nb_ipywidgets_js = {
    "requirejs/require.js": {},
    "widgets-local.js": {},
    "html-manager/embed-amd.js": {},
}

html_theme = "sphinx_book_theme"
html_title = project
html_theme_options = {
    # Links only, and no remote images: no repository, issue, edit, source or launch buttons.
    "use_download_button": False,
    "use_fullscreen_button": True,
    "use_repository_button": False,
    "use_issues_button": False,
    "use_edit_page_button": False,
    "use_source_button": False,
    "launch_buttons": {},
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "icon_links": [],
    "analytics": {},
}
html_last_updated_fmt = None
html_copy_source = False
html_show_sourcelink = False
html_css_files = ["book.css"]
