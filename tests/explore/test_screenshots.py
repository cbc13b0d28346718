"""The screenshots in docs/explore.md, taken from the churn page in Chromium.

Set SAGEGAM_EXPLORE_SCREENSHOTS=docs/images to refresh the docs' copies; otherwise they
go to a temporary folder. Each must be a picture of its part of the page, not a blank.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

SHOTS = {"overview": "#overview", "terms": "#terms .cards", "why": "#why",
         "validation": "#validation"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    chosen = os.environ.get("SAGEGAM_EXPLORE_SCREENSHOTS")
    return Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")


@pytest.mark.parametrize("name", SHOTS)
def test_screenshot(browser, churn, folder, name):
    import matplotlib.image

    browser.resize(1100, 900)
    try:
        browser.open(churn.url + "#why=17")
        box = browser.evaluate(f"(() => {{ const r = document.querySelector('{SHOTS[name]}')"
                               ".getBoundingClientRect(); return [r.width, r.height]; })()")
        path = browser.screenshot(folder / f"explore-{name}.png", SHOTS[name])
    finally:
        browser.resize(1200, 900)
    image = matplotlib.image.imread(path)
    assert image.shape[:2] == (round(box[1]), round(box[0]))
    colours = np.unique((image[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 100  # text, charts and their shading, not an empty box
