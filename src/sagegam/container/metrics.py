"""The training metric contract: what the ``train`` entry point prints and SageMaker parses.

Kept apart from the trainer so the AWS layer can build ``MetricDefinitions`` from the same
constants without importing the training code (and numpy, pandas, the model) with them.
"""

from __future__ import annotations

# One line per metric on stdout, e.g. ``metric: train_r2=0.996717;``.
METRIC_LINE = "metric: {name}={value:.6f};"
# The regex SageMaker's MetricDefinitions need; it publishes the first capture group.
METRIC_REGEX = r"{name}=([-+0-9.eE]+);"
METRIC_NAMES = ("train_r2", "train_rmse", "validation_r2", "validation_rmse",
                "train_log_loss", "train_auc", "train_accuracy",
                "validation_log_loss", "validation_auc", "validation_accuracy")
