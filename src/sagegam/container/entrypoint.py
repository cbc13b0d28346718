"""The image's ENTRYPOINT: SageMaker runs ``IMAGE train`` or ``IMAGE serve``.

Started with no command at all (the SageMaker Python SDK 3's local container mode does
this for training), the image reads the layout it was given: a training job's
configuration under ``/opt/ml/input/config`` means ``train``. Anything else gets the usage
and exit code 2, since guessing ``serve`` for an empty layout would only fail later with a
less helpful message.
"""

from __future__ import annotations

import sys

from sagegam.container.paths import MLPaths

USAGE = """usage: IMAGE train [--base-dir DIR]    run a training job from /opt/ml
       IMAGE serve [--model-dir DIR] [--port N] [--workers N]
                                      serve /opt/ml/model on port 8080
       IMAGE                          train, when /opt/ml/input/config holds a training
                                      job's configuration (SDK 3 local container mode)

SageMaker passes 'train' for training jobs and 'serve' for endpoints and batch transform.
"""

# The files SageMaker (and every SDK local mode) writes before a training container starts.
TRAINING_CONFIG_FILES = ("hyperparameters.json", "inputdataconfig.json", "resourceconfig.json")


def implied_command(paths: MLPaths) -> str | None:
    """``train`` when the layout holds a training job's configuration, else None."""
    if any((paths.config_dir / name).is_file() for name in TRAINING_CONFIG_FILES):
        return "train"
    return None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command, rest = (args[0], args[1:]) if args else (implied_command(MLPaths.resolve()), [])
    if command == "train":
        from sagegam.container.training import main as train

        return train(rest)
    if command == "serve":
        from sagegam.container.serving.server import main as serve

        return serve(rest)
    if command is None:
        print(f"no command given and no training configuration in "
              f"{MLPaths.resolve().config_dir}\n{USAGE}", file=sys.stderr)
    else:
        print(f"unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
