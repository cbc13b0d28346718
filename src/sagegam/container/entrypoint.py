"""The image's ENTRYPOINT: SageMaker runs ``IMAGE train`` or ``IMAGE serve``.

Anything else prints the usage and exits 2.
"""

from __future__ import annotations

from sagegam.container.commands import entrypoint

if __name__ == "__main__":
    entrypoint(prog_name="IMAGE")
