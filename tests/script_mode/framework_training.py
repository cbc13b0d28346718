"""What AWS's scikit-learn image runs for ``train``: the toolkit's trainer, whose framework
module (``SAGEMAKER_TRAINING_MODULE=framework_training:main``) is this one. Its ``main``
makes the same toolkit call as ``sagemaker_sklearn_container.training.main``: run the user
entry point with the toolkit's arguments and environment in a process."""

from __future__ import annotations

from sagemaker_training import entry_point, environment, runner


def main() -> None:
    env = environment.Environment()
    entry_point.run(uri=env.module_dir, user_entry_point=env.user_entry_point,
                    args=env.to_cmd_args(), env_vars=env.to_env_vars(),
                    runner_type=runner.ProcessRunnerType)
