"""`sagegam aws ...` against a real moto server: the requests each command makes, read back."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sagegam.aws import sagemaker as sm
from sagegam.aws.s3 import split_s3

GAUSS3 = Path(__file__).resolve().parents[2] / "src/sagegam/model/datasets/gauss3.csv"
REGION = "us-east-1"  # the aws_env fixture's region
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sagegam:latest"


def _csv(tmp_path: Path, name: str = "train.csv") -> Path:
    path = tmp_path / name
    path.write_text("y,x\n1.0,2.0\n3.0,4.5\n")
    return path


def _object_bytes(client: Callable[[str], Any], uri: str) -> bytes:
    bucket, key = split_s3(uri)
    return bytes(client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


# --- train ------------------------------------------------------------------------------


def test_train_uploads_data_and_creates_the_job_it_describes(
    run_cli, aws_env, client, role_arn, tmp_path
):
    train = _csv(tmp_path)
    validation = _csv(tmp_path, "validation.csv")
    result = run_cli(
        aws_env,
        "train",
        "--image",
        IMAGE,
        "--role",
        role_arn,
        "--train",
        str(train),
        "--validation",
        str(validation),
        "--job-name",
        "gam-1",
        "--instance-type",
        "ml.c5.xlarge",
        "--instance-count",
        "2",
        "--max-runtime",
        "600",
        "-H",
        "df=12",
        "-H",
        "family=poisson",
        "--poll",
        "0.1",
    )
    assert result.returncode == 0, result.stderr
    job = client("sagemaker").describe_training_job(TrainingJobName="gam-1")
    assert result.stdout.decode().strip() == job["ModelArtifacts"]["S3ModelArtifacts"]
    assert job["TrainingJobStatus"] == "Completed"
    assert job["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    assert job["RoleArn"] == role_arn
    assert job["HyperParameters"] == {"df": "12", "family": "poisson"}
    assert job["ResourceConfig"] == {
        "InstanceType": "ml.c5.xlarge",
        "InstanceCount": 2,
        "VolumeSizeInGB": 10,
    }
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 600}
    channels = {c["ChannelName"]: c for c in job["InputDataConfig"]}
    assert set(channels) == {"train", "validation"}
    # Two hosts: each reads its own objects of the train channel.
    assert channels["train"]["DataSource"]["S3DataSource"]["S3DataDistributionType"] == \
        "ShardedByS3Key"
    assert channels["validation"]["DataSource"]["S3DataSource"][
        "S3DataDistributionType"] == "FullyReplicated"
    for name, source in (("train", train), ("validation", validation)):
        assert channels[name]["ContentType"] == "text/csv"
        uri = channels[name]["DataSource"]["S3DataSource"]["S3Uri"]
        assert _object_bytes(client, uri) == source.read_bytes()
    # SageMaker appends JOB/output/model.tar.gz to the output path: the job name once.
    root = f"s3://sagemaker-{REGION}-123456789012/sagegam"
    assert job["OutputDataConfig"]["S3OutputPath"] == root
    assert result.stdout.decode().strip() == f"{root}/gam-1/output/model.tar.gz"
    assert channels["train"]["DataSource"]["S3DataSource"]["S3Uri"] == \
        f"{root}/gam-1/input/train/train.csv"
    assert "training job gam-1 created" in result.stderr.decode()
    assert "gam-1: Completed" in result.stderr.decode()


def test_train_follows_the_jobs_cloudwatch_log(run_cli, aws_env, client, role_arn, tmp_path):
    # moto writes no training logs itself; the stream a real job would have is created here.
    logs = client("logs")
    group = "/aws/sagemaker/TrainingJobs"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="gam-log/algo-1-1700000000")
    now = int(time.time() * 1000)  # CloudWatch rejects events older than 14 days
    logs.put_log_events(
        logGroupName=group,
        logStreamName="gam-log/algo-1-1700000000",
        logEvents=[
            {"timestamp": now, "message": "fitting 250 rows"},
            {"timestamp": now + 1, "message": "metric: train_r2=0.9967;"},
        ],
    )
    result = run_cli(
        aws_env, "train", "--image", IMAGE, "--role", role_arn,
        "--train", str(_csv(tmp_path)), "--job-name", "gam-log", "--poll", "0.1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    stderr = result.stderr.decode().splitlines()
    assert stderr.count("metric: train_r2=0.9967;") == 1  # followed, never repeated
    assert stderr.index("fitting 250 rows") < stderr.index("metric: train_r2=0.9967;")


def test_train_takes_s3_uris_without_uploading(run_cli, aws_env, client, role_arn):
    client("s3").create_bucket(Bucket="mine")
    client("s3").put_object(Bucket="mine", Key="data/train.csv", Body=b"y,x\n1,2\n")
    result = run_cli(
        aws_env,
        "train",
        "--image",
        IMAGE,
        "--role",
        role_arn,
        "--train",
        "s3://mine/data",
        "--output-path",
        "s3://mine/out",
        "--job-name",
        "gam-s3",
        "--no-wait",
    )
    assert result.returncode == 0, result.stderr
    job = client("sagemaker").describe_training_job(TrainingJobName="gam-s3")
    source = job["InputDataConfig"][0]["DataSource"]["S3DataSource"]
    assert source["S3Uri"] == "s3://mine/data"
    assert job["OutputDataConfig"]["S3OutputPath"] == "s3://mine/out"
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == "s3://mine/out/gam-s3/output/model.tar.gz"
    assert [b["Name"] for b in client("s3").list_buckets()["Buckets"]] == ["mine"]


def test_train_uploads_local_data_beside_its_output_path(
    run_cli, aws_env, client, role_arn, tmp_path
):
    client("s3").create_bucket(Bucket="mine")
    data = _csv(tmp_path)
    result = run_cli(aws_env, "train", "--image", IMAGE, "--role", role_arn, "--train",
                     str(data), "--output-path", "s3://mine/runs", "--job-name", "gam-mine",
                     "--poll", "0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == "s3://mine/runs/gam-mine/output/model.tar.gz"
    uri = "s3://mine/runs/gam-mine/input/train/train.csv"
    assert _object_bytes(client, uri) == data.read_bytes()
    assert [b["Name"] for b in client("s3").list_buckets()["Buckets"]] == ["mine"]


def test_unique_names_differ_by_the_millisecond_and_fit_sagemakers_pattern():
    from sagegam.aws.fields import Field
    from sagegam.aws.validation import shape, violation

    first = sm.unique_name("sagegam")
    time.sleep(0.002)
    second = sm.unique_name("sagegam")
    stamp = r"\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-\d{3}"
    assert re.fullmatch(rf"sagegam-{stamp}", first) and first != second
    long = sm.unique_name("a-" * 40)
    assert len(long) == 63
    assert violation("name", shape(Field("", "CreateTrainingJob", "TrainingJobName")), long) \
        is None


def test_the_aws_layer_imports_the_metric_contract_without_the_trainer():
    script = ("import sys, sagegam.aws.sagemaker; "
              "print('sagegam.container.training' in sys.modules, 'pandas' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["False", "False"]


def test_metric_definitions_capture_the_training_metric_lines():
    # moto's DescribeTrainingJob echoes canned MetricDefinitions, so the regexes are checked
    # here against the documented line format, on the request we send.
    request = sm.TrainingRequest(image=IMAGE, role_arn="r", channels={}, output_path="s3://b/o")
    definitions = request.to_api()["AlgorithmSpecification"]["MetricDefinitions"]
    assert len(definitions) <= 40
    line = "metric: train_r2=0.9967; validation_rmse=1.5e-02; train_auc=0.75;"
    captured = {}
    for definition in definitions:
        match = re.search(definition["Regex"], line)
        if match:
            captured[definition["Name"]] = float(match.group(1))
    assert captured == {"train_r2": 0.9967, "validation_rmse": 0.015, "train_auc": 0.75}


def test_train_rejects_a_hyperparameter_without_equals(run_cli, aws_env, role_arn, tmp_path):
    result = run_cli(
        aws_env,
        "train",
        "--image",
        IMAGE,
        "--role",
        role_arn,
        "--train",
        str(_csv(tmp_path)),
        "-H",
        "df",
    )
    assert result.returncode == 2
    assert "Invalid value for '-H' / '--hyperparameter': 'df' is not KEY=VALUE." in \
        result.stderr.decode()


# --- deploy, ls, invoke, delete ---------------------------------------------------------


def test_deploy_waits_for_in_service_ls_shows_it_and_delete_removes_everything(
    run_cli, aws_env, client, role_arn
):
    model_data = "s3://bucket/gam-1/output/model.tar.gz"
    deployed = run_cli(
        aws_env,
        "deploy",
        "--name",
        "gam-live",
        "--image",
        IMAGE,
        "--model-data",
        model_data,
        "--role",
        role_arn,
        "--instance-type",
        "ml.t2.medium",
        "--poll",
        "0.1",
    )
    assert deployed.returncode == 0, deployed.stderr
    api = client("sagemaker")
    model = api.describe_model(ModelName="gam-live")
    assert model["PrimaryContainer"]["Image"] == IMAGE
    assert model["PrimaryContainer"]["ModelDataUrl"] == model_data
    assert model["ExecutionRoleArn"] == role_arn
    config = api.describe_endpoint_config(EndpointConfigName="gam-live")
    variant = config["ProductionVariants"][0]
    assert (variant["ModelName"], variant["InstanceType"], variant["InitialInstanceCount"]) == (
        "gam-live",
        "ml.t2.medium",
        1,
    )
    endpoint = api.describe_endpoint(EndpointName="gam-live")
    assert endpoint["EndpointStatus"] == "InService"
    assert deployed.stdout.decode().strip() == endpoint["EndpointArn"]

    listed = run_cli(aws_env, "ls")
    assert re.search(r"endpoint\s+InService\s+gam-live", listed.stdout.decode())
    as_json = run_cli(aws_env, "ls", "--json")
    assert json.loads(as_json.stdout) == [
        {"kind": "endpoint", "name": "gam-live", "status": "InService"}
    ]

    deleted = run_cli(aws_env, "delete", "--name", "gam-live")
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.decode().splitlines() == [
        "deleted endpoint gam-live",
        "deleted endpoint config gam-live",
        "deleted model gam-live",
    ]
    assert api.list_endpoints()["Endpoints"] == []
    assert api.list_endpoint_configs()["EndpointConfigs"] == []
    assert api.list_models()["Models"] == []
    assert run_cli(aws_env, "ls").stdout.decode().strip() == "nothing running"
    again = run_cli(aws_env, "delete", "--name", "gam-live")
    assert again.returncode == 0
    assert again.stdout.decode().strip() == "nothing named gam-live to delete"


def _endpoints(client: Callable[[str], Any], count: int) -> list[str]:
    api = client("sagemaker")
    api.create_model(ModelName="m", PrimaryContainer={"Image": IMAGE},
                     ExecutionRoleArn="arn:aws:iam::123456789012:role/R")
    api.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "m", "InitialInstanceCount": 1,
        "InstanceType": "ml.t2.medium"}])
    names = [f"gam-{index:03d}" for index in range(count)]
    for name in names:
        api.create_endpoint(EndpointName=name, EndpointConfigName="c")
    return names


def test_ls_pages_through_every_endpoint(run_cli, aws_env, client):
    # The APIs answer 10 items per call by default and moto 100; 130 needs real paging.
    names = _endpoints(client, 130)
    result = run_cli(aws_env, "ls", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert sorted(row["name"] for row in rows) == names
    assert {(row["kind"], row["status"]) for row in rows} == {("endpoint", "InService")}


def test_delete_finds_each_piece_by_listing_and_skips_what_a_half_deploy_left_out(
    run_cli, aws_env, client
):
    _endpoints(client, 0)  # a model "m" and an endpoint config "c", no endpoint
    api = client("sagemaker")
    api.create_model(ModelName="half", PrimaryContainer={"Image": IMAGE},
                     ExecutionRoleArn="arn:aws:iam::123456789012:role/R")
    api.create_model(ModelName="half-2", PrimaryContainer={"Image": IMAGE},
                     ExecutionRoleArn="arn:aws:iam::123456789012:role/R")
    result = run_cli(aws_env, "delete", "--name", "half")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines() == ["deleted model half"]
    assert sorted(m["ModelName"] for m in api.list_models()["Models"]) == ["half-2", "m"]


# moto's InvokeEndpoint keys its canned answers on the body decoded as text and answers 500
# for binary bodies, so application/x-npy is covered by the encode test below and docs/aws.md.
@pytest.mark.parametrize("content_type", ["text/csv", "application/json", "application/jsonlines"])
def test_invoke_sends_each_content_type_and_prints_the_response_body(
    run_cli, aws_env, tmp_path, content_type
):
    # moto answers InvokeEndpoint from a queue of canned results (it runs no container), so
    # this proves the request reaches the API and the body comes back untouched.
    answer = json.dumps({"predictions": [1.5, 2.5]})
    urllib.request.urlopen(
        urllib.request.Request(
            f"{aws_env['SAGEGAM_AWS_ENDPOINT_URL']}/moto-api/static/sagemaker/endpoint-results",
            data=json.dumps(
                {
                    "results": [
                        {
                            "Body": answer,
                            "ContentType": "application/json",
                            "InvokedProductionVariant": "AllTraffic",
                            "CustomAttributes": "",
                        }
                    ]
                }
            ).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        ),
        timeout=10,
    ).close()
    body = tmp_path / "body"
    body.write_bytes(sm.encode([[1.0, 2.0], [3.0, 4.0]], content_type))
    result = run_cli(
        aws_env,
        "invoke",
        "--name",
        "gam-live",
        "--input",
        str(body),
        "--content-type",
        content_type,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"predictions": [1.5, 2.5]}


def _queue_canned_answers(moto_url: str, *bodies: str) -> None:
    results = [
        {"Body": body, "ContentType": "application/json",
         "InvokedProductionVariant": "AllTraffic", "CustomAttributes": ""}
        for body in bodies
    ]  # fmt: skip
    request = urllib.request.Request(
        f"{moto_url}/moto-api/static/sagemaker/endpoint-results",
        data=json.dumps({"results": results}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()


def test_invoke_options_travel_as_custom_attributes(run_cli, aws_env, tmp_path):
    # moto keys each canned answer on the request's X-Amzn-SageMaker-* headers and body: a
    # request with different custom attributes takes the next answer, a repeat gets the same.
    _queue_canned_answers(aws_env["SAGEGAM_AWS_ENDPOINT_URL"], '"plain"', '"explained"', '"both"',
                          '"uncertain"')
    body = tmp_path / "body.csv"
    body.write_text("1.5\n")

    def ask(*flags: str) -> str:
        result = run_cli(aws_env, "invoke", "--name", "gam", "--input", str(body), *flags)
        assert result.returncode == 0, result.stderr
        return str(json.loads(result.stdout))

    assert ask() == "plain"
    assert ask("--explain") == "explained"
    assert ask("--explain", "--labels") == "both"
    assert ask("--std", "--interval", "0.9") == "uncertain"
    assert ask() == "plain"
    assert ask("--explain") == "explained"


@pytest.mark.parametrize("content_type", sm.CONTENT_TYPES)
def test_encode_writes_what_the_sdk_serializers_would(content_type):
    rows = [[1.0, 2.5], [-3.0, 4e-3]]
    body = sm.encode(rows, content_type)
    if content_type == "application/x-npy":
        decoded = np.load(io.BytesIO(body), allow_pickle=False)
    elif content_type == "text/csv":
        lines = body.decode().split("\n")
        decoded = np.array([[float(v) for v in line.split(",")] for line in lines])
    elif content_type == "application/json":
        decoded = np.array(json.loads(body))
    else:
        decoded = np.array([json.loads(line) for line in body.decode().split("\n")])
    np.testing.assert_array_equal(decoded, np.array(rows))


# --- transform --------------------------------------------------------------------------


def test_transform_uploads_input_and_passes_every_batch_option(run_cli, aws_env, client, tmp_path):
    data = _csv(tmp_path, "batch.csv")
    result = run_cli(
        aws_env,
        "transform",
        "--model",
        "gam-live",
        "--input",
        str(data),
        "--output",
        "s3://results/out",
        "--job-name",
        "gam-batch",
        "--content-type",
        "application/jsonlines",
        "--accept",
        "application/jsonlines",
        "--split-type",
        "Line",
        "--batch-strategy",
        "SingleRecord",
        "--max-payload-mb",
        "20",
        "--max-concurrent",
        "4",
        "--assemble-with",
        "Line",
        "--join-source",
        "Input",
        "--input-filter",
        "$[1:]",
        "--output-filter",
        "$['SageMakerOutput']",
        "--poll",
        "0.1",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == "s3://results/out"
    job = client("sagemaker").describe_transform_job(TransformJobName="gam-batch")
    assert job["TransformJobStatus"] == "Completed"
    assert job["ModelName"] == "gam-live"
    assert (job["BatchStrategy"], job["MaxPayloadInMB"], job["MaxConcurrentTransforms"]) == (
        "SingleRecord",
        20,
        4,
    )
    assert job["TransformInput"]["ContentType"] == "application/jsonlines"
    assert job["TransformInput"]["SplitType"] == "Line"
    assert job["TransformOutput"] == {
        "S3OutputPath": "s3://results/out",
        "Accept": "application/jsonlines",
        "AssembleWith": "Line",
    }
    assert job["DataProcessing"] == {
        "InputFilter": "$[1:]",
        "OutputFilter": "$['SageMakerOutput']",
        "JoinSource": "Input",
    }
    uri = job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    assert _object_bytes(client, uri) == data.read_bytes()


def test_transform_defaults_ask_the_container_and_unsplit_input_sends_no_batch_strategy(
    run_cli, aws_env, client
):
    result = run_cli(aws_env, "transform", "--model", "m", "--input", "s3://in/x", "--output",
                     "s3://out/y", "--job-name", "whole-files", "--split-type", "None",
                     "--content-type", "application/jsonlines", "--poll", "0")
    assert result.returncode == 0, result.stderr
    job = client("sagemaker").describe_transform_job(TransformJobName="whole-files")
    # MaxConcurrentTransforms unset: SageMaker asks /execution-parameters, as locally.
    assert "MaxConcurrentTransforms" not in job and "BatchStrategy" not in job
    assert job["TransformOutput"]["Accept"] == "application/jsonlines"  # the input's type


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--max-payload-mb", "101"], "Invalid value for '--max-payload-mb': 101 is not in "
                                      "the range 1<=x<=100."),
        (["--max-payload-mb", "0"], "Invalid value for '--max-payload-mb': 0 is not in "
                                    "the range 1<=x<=100."),
        (["--max-payload-mb", "30", "--max-concurrent", "4"],
         "Error: --max-concurrent x --max-payload-mb must be at most 100 (MB in flight); got "
         "4 x 30."),
        (["--join-source", "Input", "--assemble-with", "None"],
         "Error: --join-source Input needs --split-type Line and --assemble-with Line"),
        (["--input-filter", "$[" + "0," * 40 + "1]"],
         "Error: --input-filter is 84 characters long"),
    ],
)
def test_transform_refuses_options_sagemaker_would_reject_before_any_call(
    run_cli, aws_env, client, options, message
):
    result = run_cli(aws_env, "transform", "--model", "m", "--input", "s3://in/x",
                     "--output", "s3://out/y", *options)
    assert result.returncode in (1, 2)
    assert message in result.stderr.decode()
    assert client("sagemaker").list_transform_jobs()["TransformJobSummaries"] == []
