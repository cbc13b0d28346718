"""`sagegam aws ...` against a real moto server: the requests each command makes, read back."""

from __future__ import annotations

import base64
import io
import json
import re
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sagegam.aws import sagemaker as sm
from sagegam.aws.ecr import RegistryLogin, run_push
from sagegam.aws.session import PreflightError, connect

GAUSS3 = Path(__file__).resolve().parents[2] / "src/sagegam/model/datasets/gauss3.csv"
REGION = "us-east-1"  # the aws_env fixture's region
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sagegam:latest"


def _csv(tmp_path: Path, name: str = "train.csv") -> Path:
    path = tmp_path / name
    path.write_text("y,x\n1.0,2.0\n3.0,4.5\n")
    return path


def _object_bytes(client: Callable[[str], Any], uri: str) -> bytes:
    bucket, key = sm.split_s3(uri)
    return bytes(client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


# --- push -------------------------------------------------------------------------------


def test_push_creates_the_repository_once_and_prints_login_tag_push(run_cli, aws_env, client):
    first = run_cli(aws_env, "push", "--engine", "podman", "--dry-run", "--image", "sagegam:1")
    second = run_cli(aws_env, "push", "--engine", "podman", "--dry-run", "--tag", "v2")
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr

    repositories = client("ecr").describe_repositories()["repositories"]
    assert [r["repositoryName"] for r in repositories] == ["sagegam"]
    uri = repositories[0]["repositoryUri"]
    registry = uri.split("/")[0]
    lines = first.stdout.decode().splitlines()
    assert lines[0].endswith(f"podman login --username AWS --password-stdin {registry}")
    assert lines[1].endswith(f"podman tag sagegam:1 {uri}:latest")
    assert lines[2].endswith(f"podman push {uri}:latest")
    assert lines[3] == f"{uri}:latest"
    assert second.stdout.decode().splitlines()[-1] == f"{uri}:v2"


def test_push_logs_in_with_the_decoded_authorization_token(aws_env, client, monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(key, aws_env[key])
    monkeypatch.setenv("SAGEGAM_AWS_ENDPOINT_URL", aws_env["SAGEGAM_AWS_ENDPOINT_URL"])
    from sagegam.aws.ecr import registry_login

    login = registry_login(connect())
    token = client("ecr").get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
    assert (login.username, login.password) == (user, password)
    assert not login.registry.startswith("http")
    assert login.registry in token["proxyEndpoint"]


@pytest.mark.container
def test_push_reports_a_registry_that_refuses_the_engine_login_in_one_line(tmp_path):
    # A real engine run: podman itself fails to reach a registry on a closed loopback port.
    import shutil
    import socket

    engine = shutil.which("podman") or shutil.which("docker")
    assert engine is not None, ".ci/run provides podman"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    login = RegistryLogin(registry=f"127.0.0.1:{port}", username="AWS", password="secret")
    commands = [[engine, "login", "--username", "AWS", "--password-stdin", login.registry]]
    with pytest.raises(PreflightError, match=r"login` failed: .*127\.0\.0\.1"):
        run_push(commands, login.password)


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
    for name, source in (("train", train), ("validation", validation)):
        assert channels[name]["ContentType"] == "text/csv"
        uri = channels[name]["DataSource"]["S3DataSource"]["S3Uri"]
        assert _object_bytes(client, uri) == source.read_bytes()
    bucket = f"sagemaker-{REGION}-123456789012"
    assert job["OutputDataConfig"]["S3OutputPath"] == f"s3://{bucket}/gam-1/output"
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
    assert [b["Name"] for b in client("s3").list_buckets()["Buckets"]] == ["mine"]


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
    assert "expected KEY=VALUE, got 'df'" in result.stderr.decode()


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


def test_invoke_explain_and_labels_travel_as_custom_attributes(run_cli, aws_env, tmp_path):
    # moto keys each canned answer on the request's X-Amzn-SageMaker-* headers and body: a
    # request with different custom attributes takes the next answer, a repeat gets the same.
    _queue_canned_answers(aws_env["SAGEGAM_AWS_ENDPOINT_URL"], '"plain"', '"explained"', '"both"')
    body = tmp_path / "body.csv"
    body.write_text("1.5\n")

    def ask(*flags: str) -> str:
        result = run_cli(aws_env, "invoke", "--name", "gam", "--input", str(body), *flags)
        assert result.returncode == 0, result.stderr
        return str(json.loads(result.stdout))

    assert ask() == "plain"
    assert ask("--explain") == "explained"
    assert ask("--explain", "--labels") == "both"
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


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--max-payload-mb", "101"], "between 0 and 100"),
        (["--max-payload-mb", "30", "--max-concurrent", "4"], "at most 100 (got 4 x 30)"),
        (["--split-type", "None"], "MultiRecord needs --split-type Line"),
        (["--join-source", "Input", "--assemble-with", "None"], "--join-source Input needs"),
    ],
)
def test_transform_refuses_options_sagemaker_would_reject_before_any_call(
    run_cli, aws_env, client, options, message
):
    result = run_cli(
        aws_env,
        "transform",
        "--model",
        "m",
        "--input",
        "s3://in/x",
        "--output",
        "s3://out/y",
        *options,
    )
    assert result.returncode == 1
    assert message in result.stderr.decode()
    assert client("sagemaker").list_transform_jobs()["TransformJobSummaries"] == []


# --- preflight --------------------------------------------------------------------------


def _one_line_error(result: Any) -> str:
    assert result.returncode == 1, result.stdout
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_without_boto3_the_aws_commands_say_which_extra_to_install(aws_env):
    # A Python where boto3 cannot be imported, as after `pip install sagegam` without [aws].
    import subprocess
    import sys

    script = (
        "import sys; sys.modules['boto3'] = None; from sagegam.cli import cli; "
        "cli(['aws', 'ls'], prog_name='sagegam')"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=aws_env, capture_output=True, timeout=60, check=False
    )
    assert _one_line_error(result) == (
        "Error: boto3 is not installed. Remedy: pip install 'sagegam[aws]'"
    )


def test_no_credentials_is_reported_with_a_remedy(run_cli, bare_env):
    bare_env["AWS_DEFAULT_REGION"] = REGION
    line = _one_line_error(run_cli(bare_env, "ls"))
    assert "No AWS credentials found" in line
    assert "aws configure" in line


def test_no_region_is_reported_with_a_remedy(run_cli, aws_env):
    del aws_env["AWS_DEFAULT_REGION"]
    line = _one_line_error(run_cli(aws_env, "ls"))
    assert "No AWS region configured" in line
    assert "--region" in line
    assert run_cli(aws_env, "--region", REGION, "ls").returncode == 0


def test_train_without_a_role_says_how_to_give_one(run_cli, aws_env, tmp_path):
    line = _one_line_error(
        run_cli(aws_env, "train", "--image", IMAGE, "--train", str(_csv(tmp_path)))
    )
    assert "No execution role given" in line
    assert "SAGEGAM_ROLE_ARN" in line


def test_a_role_that_does_not_exist_is_reported(run_cli, aws_env, client):
    line = _one_line_error(
        run_cli(
            aws_env,
            "deploy",
            "--name",
            "n",
            "--image",
            IMAGE,
            "--model-data",
            "s3://b/m.tar.gz",
            "--role",
            "arn:aws:iam::123456789012:role/Missing",
        )
    )
    assert "IAM role 'Missing' does not exist" in line
    assert client("sagemaker").list_models()["Models"] == []


def test_a_role_sagemaker_cannot_assume_is_reported_from_its_trust_policy(run_cli, aws_env, client):
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    arn = client("iam").create_role(RoleName="Ec2Only", AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]["Arn"]
    env = {**aws_env, "SAGEGAM_ROLE_ARN": arn}
    line = _one_line_error(
        run_cli(
            env,
            "deploy",
            "--name",
            "n",
            "--image",
            IMAGE,
            "--model-data",
            "s3://b/m.tar.gz",
        )
    )
    assert "cannot be assumed by SageMaker" in line
    assert "update-assume-role-policy --role-name Ec2Only" in line
    assert client("sagemaker").list_models()["Models"] == []


def test_push_without_a_container_engine_is_reported_before_any_call(
    run_cli, aws_env, client, tmp_path
):
    env = {**aws_env, "PATH": str(tmp_path)}
    line = _one_line_error(run_cli(env, "push"))
    assert "No working container engine (looked for docker, podman" in line
    assert client("ecr").describe_repositories()["repositories"] == []


@pytest.mark.parametrize(
    ("args", "action"),
    [
        (["ls"], "sagemaker:ListEndpoints"),
        (["push", "--engine", "podman", "--dry-run"], "ecr:DescribeRepositories"),
        (["delete", "--name", "x"], "sagemaker:DeleteEndpoint"),
    ],
)
def test_missing_permissions_come_back_as_the_apis_own_access_denied(
    run_cli, aws_env, powerless_keys, args, action
):
    line = _one_line_error(run_cli({**aws_env, **powerless_keys}, *args))
    assert "AccessDenied" in line
    assert f"not authorized to perform: {action}" in line
    assert "Remedy: grant this identity" in line
