"""The SageMaker Python SDK 2 flow of docs/aws.md (the reference notebook's), in local mode.

Run by tests/sdk/test_sdk_flows.py with the interpreter of a virtualenv holding
``sagemaker`` 2.x, as ``python drive_v2.py CONFIG.json``; writes what it saw to the
``result`` path the config names.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from sagemaker.deserializers import CSVDeserializer, JSONDeserializer, NumpyDeserializer
from sagemaker.estimator import Estimator
from sagemaker.local import LocalSession
from sagemaker.serializers import CSVSerializer, JSONSerializer, NumpySerializer


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    session = LocalSession()
    session.config = {"local": {"local_code": True}}
    estimator = Estimator(
        image_uri=config["image"], role=config["role"], instance_count=1,
        instance_type="local", hyperparameters={"df": 20},
        metric_definitions=config["metric_definitions"],
        output_path=f"file://{config['work_dir']}", sagemaker_session=session)
    estimator.fit({"train": f"file://{config['train_dir']}"})
    predictor = estimator.deploy(initial_instance_count=1, instance_type="local",
                                 serializer=NumpySerializer(),
                                 deserializer=NumpyDeserializer())
    rows = np.array(config["rows"])
    try:
        npy = predictor.predict(rows)
        predictor.serializer, predictor.deserializer = CSVSerializer(), CSVDeserializer()
        csv = predictor.predict(rows)
        predictor.serializer, predictor.deserializer = JSONSerializer(), JSONDeserializer()
        answer = predictor.predict(rows.tolist())
    finally:
        predictor.delete_endpoint()
    predictions = {"npy": npy.tolist(), "csv": [float(row[0]) for row in csv],
                   "json": answer["predictions"]}
    Path(config["result"]).write_text(json.dumps({
        "model_data": estimator.model_data.removeprefix("file://"),
        "predictions": predictions}))


if __name__ == "__main__":
    main()
