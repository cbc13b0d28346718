"""The SageMaker Python SDK 3 flow of docs/aws.md, in the SDK's local container mode.

Run by tests/sdk/test_sdk_flows.py with the interpreter of a virtualenv holding
``sagemaker`` 3.x (not sagegam's), as ``python drive_v3.py CONFIG.json``; writes what it
saw to the ``result`` path the config names. The steps are the documentation's, in order.
"""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path

import boto3
import numpy as np
from sagemaker.core.helper.session_helper import Session
from sagemaker.core.training.configs import Compute, InputData, MetricDefinition
from sagemaker.serve import ModelBuilder
from sagemaker.serve.builder.schema_builder import SchemaBuilder
from sagemaker.serve.mode.function_pointers import Mode as ServeMode
from sagemaker.serve.utils.types import ModelServer
from sagemaker.train import ModelTrainer
from sagemaker.train.model_trainer import Mode as TrainMode


def podman_binds() -> None:
    # podman 4.3's Docker API refuses a bind whose destination ends in "/" as a duplicate
    # mount (Docker accepts it); the SDK binds the model at "/opt/ml/model/". Only the
    # test machine (podman, not Docker) needs this.
    import sagemaker.serve.model_server.multi_model_server.server as mms

    mms.MODE_DIR_BINDING = "/opt/ml/model"


def train(config: dict, root: Path) -> Path:
    trainer = ModelTrainer(
        training_image=config["image"],
        training_mode=TrainMode.LOCAL_CONTAINER,
        local_container_root=str(root),
        compute=Compute(instance_type="local", instance_count=1),
        hyperparameters={"df": 20},
        role=config["role"],
    ).with_metric_definitions([MetricDefinition(name=d["Name"], regex=d["Regex"])
                               for d in config["metric_definitions"]])
    trainer.train(input_data_config=[InputData(channel_name="train",
                                               data_source=config["train_dir"])])
    return root / "compressed_artifacts" / "model.tar.gz"


def deploy(config: dict, model_tar: Path, root: Path):
    model_dir = root / "serving"
    with tarfile.open(model_tar) as tar:  # the SDK mounts MODEL_PATH/code as /opt/ml/model
        tar.extractall(model_dir / "code", filter="data")
    session = Session(boto_session=boto3.Session(), default_bucket=config["bucket"])
    builder = ModelBuilder(
        image_uri=config["image"],
        model_server=ModelServer.MMS,
        mode=ServeMode.LOCAL_CONTAINER,
        model_path=str(model_dir),
        schema_builder=SchemaBuilder(sample_input=np.array([[10.0]]),
                                     sample_output={"predictions": [0.0]}),
        content_type="application/x-npy",
        accept_type="application/json",
        role_arn=config["role"],
        sagemaker_session=session,
    )
    builder.build()
    return builder.deploy(endpoint_name="gauss3-sdk3")


def predict(endpoint, rows: list[list[float]]) -> dict[str, list[float]]:
    csv = "\n".join(",".join(repr(v) for v in row) for row in rows)
    answers = {
        "npy": endpoint.invoke(body=np.array(rows)),
        "csv": endpoint.invoke(body=csv, content_type="text/csv"),
        # invoke() swaps a plain "application/json" for the serializer's type (npy here).
        "json": endpoint.invoke(body=json.dumps(rows),
                                content_type="application/json; charset=utf-8"),
    }
    # The SDK wraps each deserialized answer in a one-element JSON list.
    return {kind: json.loads(answer.body.read())[0]["predictions"]
            for kind, answer in answers.items()}


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    podman_binds()
    root = Path(config["work_dir"])
    model_tar = train(config, root)
    endpoint = deploy(config, model_tar, root)
    try:
        predictions = predict(endpoint, config["rows"])
    finally:
        endpoint.delete()
        # delete() stops the endpoint the SDK registered; the serving container it started
        # itself is stopped (SIGTERM) through the local container mode object.
        endpoint.local_container_mode_obj.container.stop(timeout=30)
    Path(config["result"]).write_text(json.dumps({"model_data": str(model_tar),
                                                  "predictions": predictions}))


if __name__ == "__main__":
    main()
