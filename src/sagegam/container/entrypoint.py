"""The image's ENTRYPOINT: SageMaker runs ``IMAGE train`` or ``IMAGE serve``."""

from __future__ import annotations

import sys

USAGE = """usage: IMAGE train [--base-dir DIR]    run a training job from /opt/ml
       IMAGE serve [--model-dir DIR] [--port N] [--workers N]
                                      serve /opt/ml/model on port 8080

SageMaker passes 'train' for training jobs and 'serve' for endpoints and batch transform.
"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command, rest = (args[0], args[1:]) if args else ("", [])
    if command == "train":
        from sagegam.container.training import main as train

        return train(rest)
    if command == "serve":
        from sagegam.container.serving.server import main as serve

        return serve(rest)
    print(f"unknown command {command!r}\n{USAGE}" if command else USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
