"""The explorer as one HTML file: styles, scripts and data inline, nothing fetched.

The page must open from an S3 download or an air-gapped laptop, so it references no
URL: the scripts are sagegam's own (``assets/``, Apache-2.0 like the rest of sagegam),
the data is a JSON block the scripts read at load.
"""

from __future__ import annotations

import html
import json
from functools import cache
from importlib import resources
from typing import Any

SCRIPTS = ("format.js", "charts.js", "grids.js", "model.js", "views.js", "why.js", "main.js")


@cache
def _asset(name: str) -> str:
    return resources.files("sagegam.explore").joinpath("assets").joinpath(name).read_text("utf-8")


def render_page(payload: dict[str, Any]) -> str:
    """The whole document for a payload from :func:`~sagegam.explore.payload.build_payload`."""
    data = json.dumps(payload, separators=(",", ":"), allow_nan=False)
    # "</" cannot end the data block early once escaped; JSON reads "<\/" as "</".
    data = data.replace("</", "<\\/")
    scripts = "\n".join(_asset(name) for name in SCRIPTS)
    title = html.escape(str(payload["title"]))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="{html.escape(str(payload["written_by"]))}">
<title>{title}</title>
<style>{_asset("explorer.css")}</style></head>
<body><noscript>This page draws its charts with JavaScript; please enable it.</noscript>
<div id="app"></div>
<script type="application/json" id="sagegam-data">{data}</script>
<script>
"use strict";
(function () {{
{scripts}
}})();
</script></body></html>
"""
