"""The container entry points as ``sagegam`` commands: ``train`` and ``serve``.

They are the very commands the image runs (``sagegam.container.commands``), so the two
cannot drift apart.
"""

from __future__ import annotations

from sagegam.container.commands import serve, train

__all__ = ["serve", "train"]
