"""The AWS commands against moto's server: the requests they make and their effects."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import boto3
import numpy as np
import pytest
from click.testing import CliRunner

from sagegam.aws import registry
from sagegam.aws.session import Aws
from sagegam.cli import cli
from sagegam.container.training import METRIC_NAMES

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sagegam:latest"


def run(*args: str):
    return CliRunner().invoke(cli, ["aws", *args])


def client(service: str, emulator: str):
    return boto3.client(service, endpoint_url=emulator, region_name="us-east-1")


@pytest.fixture()
def train_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.csv"
    np.savetxt(path, np.random.default_rng(0).uniform(size=(20, 2)), delimiter=",")
    return path


def recorded_requests(emulator: str, target: str) -> list[dict]:
    """What moto's request recorder saw for one API action (X-Amz-Target)."""
    import urllib.request

    with urllib.request.urlopen(emulator + "/moto-api/recorder/download-recording") as response:
        entries = [json.loads(line) for line in response.read().decode().splitlines() if line]
    return [json.loads(base64.b64decode(e["body"]) if e.get("body_encoded") else e["body"])
            for e in entries if e.get("headers", {}).get("X-Amz-Target", "").endswith(target)]


def test_train_uploads_data_and_creates_the_exact_training_job(emulator, role, train_file):
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(
        emulator + "/moto-api/recorder/reset-recording", method="POST"))
    urllib.request.urlopen(urllib.request.Request(
        emulator + "/moto-api/recorder/start-recording", method="POST"))
    result = run("train", "gauss3", "--image", IMAGE, "--train", str(train_file), "--role",
                 "SageMakerRole", "-p", "train-file=train.csv", "-p", "df=20",
                 "--content-type", "text/csv", "--no-wait")
    assert result.exit_code == 0, result.output
    s3 = client("s3", emulator)
    keys = [o["Key"] for o in s3.list_objects_v2(
        Bucket="sagegam-123456789012-us-east-1")["Contents"]]
    assert keys == ["gauss3/input/train/train.csv"]
    job = client("sagemaker", emulator).describe_training_job(TrainingJobName="gauss3")
    assert job["HyperParameters"] == {"train-file": "train.csv", "df": "20"}
    assert job["RoleArn"] == role
    assert job["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    channel = job["InputDataConfig"][0]
    assert channel["ChannelName"] == "train" and channel["ContentType"] == "text/csv"
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == \
        "s3://sagegam-123456789012-us-east-1/gauss3/input/train/"
    assert job["OutputDataConfig"]["S3OutputPath"] == \
        "s3://sagegam-123456789012-us-east-1/gauss3/output"
    urllib.request.urlopen(urllib.request.Request(
        emulator + "/moto-api/recorder/stop-recording", method="POST"))
    # moto does not keep MetricDefinitions, so read them from the request itself.
    (request,) = recorded_requests(emulator, "CreateTrainingJob")
    definitions = request["AlgorithmSpecification"]["MetricDefinitions"]
    assert {d["Name"] for d in definitions} == set(METRIC_NAMES)
    assert {"Name": "train_r2", "Regex": "train_r2=([-+0-9.eE]+);"} in definitions
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}


def test_train_waits_and_reports_the_model_artifact(emulator, role, train_file):
    result = run("train", "waited", "--image", IMAGE, "--train", str(train_file), "--role",
                 role)
    assert result.exit_code == 0, result.output
    assert "training job waited: Completed" in result.output
    assert "model: s3://" in result.output


def test_deploy_invoke_ls_and_delete_leave_nothing_running(emulator, role):
    result = run("deploy", "gauss3", "--image", IMAGE, "--model-data",
                 "s3://bucket/gauss3/model.tar.gz", "--role", "SageMakerRole")
    assert result.exit_code == 0, result.output
    assert "endpoint gauss3: InService" in result.output
    sagemaker = client("sagemaker", emulator)
    model = sagemaker.describe_model(ModelName="gauss3")
    assert model["PrimaryContainer"]["Image"] == IMAGE
    assert model["PrimaryContainer"]["ModelDataUrl"] == "s3://bucket/gauss3/model.tar.gz"
    config = sagemaker.describe_endpoint_config(EndpointConfigName="gauss3")
    assert config["ProductionVariants"][0]["InstanceType"] == "ml.m5.large"
    invoked = CliRunner().invoke(cli, ["aws", "invoke", "gauss3", "-c", "text/csv"],
                                 input="10\n111.6\n")
    assert invoked.exit_code == 0, invoked.output  # moto answers with a canned body
    listed = run("ls", "--json")
    assert [e["EndpointName"] for e in json.loads(listed.output)["endpoints"]] == ["gauss3"]
    deleted = run("delete", "gauss3")
    assert deleted.exit_code == 0 and "endpoint, endpoint config, model" in deleted.output
    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert sagemaker.list_models()["Models"] == []
    assert "nothing running" in run("ls").output


def test_transform_creates_the_job_with_the_local_runtimes_options(emulator, role, train_file):
    run("deploy", "scorer", "--image", IMAGE, "--model-data", "s3://b/m.tar.gz", "--role",
        role)
    result = run("transform", "scores", "--model", "scorer", "--input", str(train_file),
                 "--output", "s3://bucket/scores/", "--max-concurrent", "2", "--join-source",
                 "Input", "--input-filter", "$[1:]", "--batch-strategy", "SingleRecord")
    assert result.exit_code == 0, result.output
    job = client("sagemaker", emulator).describe_transform_job(TransformJobName="scores")
    assert job["ModelName"] == "scorer"
    assert job["BatchStrategy"] == "SingleRecord" and job["MaxConcurrentTransforms"] == 2
    assert job["TransformInput"]["SplitType"] == "Line"
    assert job["TransformOutput"]["S3OutputPath"] == "s3://bucket/scores/"
    assert job["DataProcessing"] == {"JoinSource": "Input", "InputFilter": "$[1:]"}


def test_push_creates_the_repository_and_decodes_the_login(emulator):
    aws = Aws()
    uri = registry.ensure_repository(aws, "sagegam")
    assert uri.endswith("/sagegam")
    assert registry.ensure_repository(aws, "sagegam") == uri  # idempotent
    credentials = registry.login(aws)
    token = client("ecr", emulator).get_authorization_token()["authorizationData"][0]
    assert f"{credentials.username}:{credentials.password}".encode() == \
        base64.b64decode(token["authorizationToken"])
    commands = registry.push_commands("podman", "sagegam:latest", uri, "v1", credentials)
    assert commands[0][:5] == ["podman", "login", "--username", credentials.username,
                               "--password-stdin"]
    assert commands[1:] == [["podman", "tag", "sagegam:latest", f"{uri}:v1"],
                            ["podman", "push", f"{uri}:v1"]]
    assert credentials.password not in " ".join(commands[0])  # it goes through stdin


def test_preflight_names_a_missing_region(emulator, monkeypatch):
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    result = run("ls")
    assert result.exit_code == 1 and "No AWS region" in result.output


def test_preflight_names_missing_credentials(emulator, monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = run("ls")
    assert result.exit_code == 1 and "No AWS credentials" in result.output


def test_preflight_names_a_missing_or_untrusting_role(emulator, train_file):
    missing = run("deploy", "x", "--image", IMAGE, "--model-data", "s3://b/m", "--role",
                  "Nope")
    assert missing.exit_code == 1 and "Role 'Nope' does not exist" in missing.output
    client("iam", emulator).create_role(RoleName="LambdaRole", AssumeRolePolicyDocument=json.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole"}]}))
    untrusting = run("train", "x", "--image", IMAGE, "--train", str(train_file), "--role",
                     "LambdaRole")
    assert untrusting.exit_code == 1 and "cannot be assumed by SageMaker" in untrusting.output
    no_role = run("deploy", "x", "--image", IMAGE, "--model-data", "s3://b/m")
    assert no_role.exit_code == 1 and "No execution role" in no_role.output


def test_api_errors_become_one_line_messages(emulator, role):
    result = run("deploy", "x", "--image", IMAGE, "--model-data", "s3://b/m", "--role", role,
                 "--instance-type", "ml.bogus")
    assert result.exit_code == 1
    assert result.output.startswith("Error: Creating endpoint config 'x' failed: "
                                    "ValidationException: Value 'ml.bogus'")
    assert "Traceback" not in result.output
