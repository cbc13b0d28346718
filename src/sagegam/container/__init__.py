"""The SageMaker container contract: the `train` and `serve` entry points."""
