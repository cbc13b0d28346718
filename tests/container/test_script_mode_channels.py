"""Script mode reads each channel where the toolkit's SM_CHANNEL_NAME says it is, which need
not be under SM_INPUT_DIR (the streaming/hosts merge once looked only there)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from sagegam import load


def test_a_channel_outside_the_input_folder_is_read_from_its_sm_channel_variable(tmp_path):
    channel = tmp_path / "elsewhere" / "train"
    channel.mkdir(parents=True)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 400)
    np.savetxt(channel / "data.csv", np.column_stack([x, np.sin(4 * x)]), delimiter=",")
    base = tmp_path / "ml"
    (base / "input" / "data").mkdir(parents=True)  # holds no channel
    env = {key: value for key, value in os.environ.items() if not key.startswith("SM_")}
    env.update(SM_INPUT_DIR=str(base / "input"), SM_CHANNEL_TRAIN=str(channel),
               SM_MODEL_DIR=str(base / "model"), SM_OUTPUT_DIR=str(base / "output"),
               SM_OUTPUT_DATA_DIR=str(base / "output" / "data"), SM_CURRENT_HOST="algo-1",
               SM_HOSTS=json.dumps(["algo-1"]),
               SM_INPUT_DATA_CONFIG=json.dumps({"train": {"ContentType": "text/csv"}}))
    done = subprocess.run([sys.executable, "-c", "from sagegam.container.script_mode import "
                           "train; train(['--df', '8'])"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    model = load(base / "model")
    assert np.max(np.abs(model.predict(x[:, None]) - np.sin(4 * x))) < 0.05
