"""For the whole suite, the tests and the notebooks: the backend CI uses, and saved figures.

MPLBACKEND=Agg, as CI and many JupyterHubs set it: kernels started by nbval inherit it, so
the notebooks run as they would there, with no inline backend to turn figures into images.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
# Every figure a notebook shows reports the texts too small to read at display size (below 8 pt
# in a 1280-pixel JupyterLab; plots.small_texts), and the hook below fails on them.
# COURSE_FIGURE_AUDIT=0 turns the audit off, to look at something else first.
os.environ.setdefault("COURSE_FIGURE_AUDIT", "1")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Every notebook cell that nbval runs: a figure it shows must come with its PNG, and its
    texts must be readable where JupyterLab shows it.

    Without a PNG a saved notebook shows only "<Figure size ...>" (MPLBACKEND=Agg, set above as
    CI and many JupyterHubs set it, gives no image unless course_utils registers one).
    """
    result = yield
    bare = [
        out["data"]["text/plain"]
        for out in getattr(item, "test_outputs", None) or []
        if out.get("output_type") in ("display_data", "execute_result")
        and out["data"].get("text/plain", "").startswith("<Figure")
        and "image/png" not in out["data"]
    ]
    if bare:
        pytest.fail(f"{item.name} shows figures without an image: {bare}", pytrace=False)
    small = [
        text
        for out in getattr(item, "test_outputs", None) or []
        for text in out.get("metadata", {}).get("image/png", {}).get("course_small_texts", [])
    ]
    if small:
        pytest.fail(
            f"{item.name} shows a figure whose text is below 8 pt where JupyterLab shows it "
            f"(text, points): {small}. Enlarge the font or narrow the figure.",
            pytrace=False,
        )
    return result
