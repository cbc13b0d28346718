"""docs/aws.md's least-privilege policy holds exactly the actions the commands call, and is
enough: every command runs as a user holding only those actions on an IAM-enforcing moto."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest

from sagegam.aws import ecr
from sagegam.aws.session import connect
from tests.aws.conftest import REGION, SAGEMAKER_TRUST, Recorded

PAGE = (Path(__file__).parents[2] / "docs" / "aws.md").read_text()
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sagegam:latest"
ROLE = "arn:aws:iam::123456789012:role/SageGamExecution"
# Actions in the policy that are not sagegam's API calls, and why they are there.
NOT_CALLS = {
    "ecr:BatchCheckLayerAvailability": "the engine's push",
    "ecr:InitiateLayerUpload": "the engine's push",
    "ecr:UploadLayerPart": "the engine's push",
    "ecr:CompleteLayerUpload": "the engine's push",
    "ecr:PutImage": "the engine's push",
    "ecr:BatchGetImage": "the engine's push (existing manifests)",
    "iam:PassRole": "checked by SageMaker when the role is passed; no call of its own",
    "s3:AbortMultipartUpload": "boto3 aborts a failed multipart upload",
    "sagemaker:UpdateEndpoint": "deploy to an existing endpoint; moto implements no "
                                "UpdateEndpoint, so no command here reaches it",
    "cloudwatch:PutMetricAlarm": "Application Auto Scaling makes the policy's alarms as the caller",
    "cloudwatch:DescribeAlarms": "Application Auto Scaling makes the policy's alarms as the caller",
    "cloudwatch:DeleteAlarms": "Application Auto Scaling makes the policy's alarms as the caller",
    "iam:CreateServiceLinkedRole": "Application Auto Scaling creates its role on first use",
}
FREE = {"GetCallerIdentity"}  # STS needs no permission for it


def _policies() -> dict[str, dict[str, Any]]:
    blocks = re.findall(r"```json\n(.*?)```", PAGE, re.DOTALL)
    documents = [json.loads(block) for block in blocks]
    by_sid = {s.get("Sid"): d for d in documents if "Statement" in d for s in d["Statement"]}
    return {"caller": by_sid["WhatBills"], "execution": by_sid["PullTheImage"]}


def _actions(policy: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for statement in policy["Statement"]:
        action = statement["Action"]
        found |= {action} if isinstance(action, str) else set(action)
    return found


@pytest.mark.parametrize("name", ["caller", "execution"])
def test_the_documented_policies_are_well_formed(name):
    policy = _policies()[name]
    assert policy["Version"] == "2012-10-17"
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow" and re.fullmatch(r"[A-Za-z]\w*", statement["Sid"])
        assert all(re.fullmatch(r"[a-z0-9-]+:[A-Z][A-Za-z]+", a) for a in _actions(
            {"Statement": [statement]}))
        resources = statement["Resource"]
        for resource in [resources] if isinstance(resources, str) else resources:
            assert resource == "*" or re.fullmatch(
                r"arn:aws:[a-z0-9-]+:(REGION)?:(ACCOUNT)?:\S+", resource), resource


def _iam_action(request: Recorded) -> str | None:
    if request.service in ("sagemaker", "ecr", "logs", "application-autoscaling"):
        return f"{request.service}:{request.operation}"
    if request.service == "sagemaker-runtime":
        return f"sagemaker:{request.operation}"
    if request.service == "query":
        return None if request.operation in FREE else f"iam:{request.operation}"
    method, url = request.operation.split(" ", 1)
    parts = [p for p in urlparse(url).path.split("/") if p]
    return {("HEAD", 1): "s3:ListBucket", ("PUT", 1): "s3:CreateBucket"}.get(
        (method, len(parts)), "s3:PutObject" if method in ("PUT", "POST") else f"s3:{method}")


def _queue_answer(url: str) -> None:
    answer = {"Body": "[1.0]", "ContentType": "application/json",
              "InvokedProductionVariant": "AllTraffic", "CustomAttributes": ""}
    urllib.request.urlopen(urllib.request.Request(
        f"{url}/moto-api/static/sagemaker/endpoint-results",
        data=json.dumps({"results": [answer]}).encode(),
        headers={"Content-Type": "application/json"}, method="POST"), timeout=10).close()


def _prepare(url: str, keys: dict[str, str]) -> None:
    """What an administrator set up before: the role and an image pushed to ECR."""
    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=url, region_name=REGION,
                            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"])

    client("iam").create_role(RoleName="SageGamExecution",
                              AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))
    client("ecr").create_repository(repositoryName="sagegam")
    layer = {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 2,
             "digest": "sha256:" + "1" * 64}
    client("ecr").put_image(repositoryName="sagegam", imageTag="latest", imageManifest=json.dumps(
        {"schemaVersion": 2, "mediaType": ecr.DOCKER_V2S2, "layers": [layer],
         "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
                    "digest": "sha256:" + "0" * 64}}))
    # moto runs no container: the log stream a real training job j1 would write.
    group, stream = "/aws/sagemaker/TrainingJobs", "j1/algo-1-1700000000"
    client("logs").create_log_group(logGroupName=group)
    client("logs").create_log_stream(logGroupName=group, logStreamName=stream)
    client("logs").put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
        {"timestamp": int(time.time() * 1000), "message": "metric: train_r2=0.99;"}])
    # ...and the log an endpoint gam would write.
    group = "/aws/sagemaker/Endpoints/gam"
    client("logs").create_log_group(logGroupName=group)
    client("logs").create_log_stream(logGroupName=group, logStreamName="AllTraffic/i-1")
    client("logs").put_log_events(logGroupName=group, logStreamName="AllTraffic/i-1",
                                  logEvents=[{"timestamp": int(time.time() * 1000),
                                              "message": "serve: model /opt/ml/model"}])
    _queue_answer(url)


def _every_command(run: Callable[..., Any], env: dict[str, str], tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("1.0,2.0\n3.0,4.5\n")
    commands = [
        ["push", "--dry-run", "--engine", "podman"],
        ["train", "--image", IMAGE, "--role", ROLE, "--train", str(data), "--job-name", "j1",
         "--poll", "0", "-H", "df=12"],
        ["deploy", "--name", "gam", "--image", IMAGE, "--model-data", "s3://b/m.tar.gz",
         "--role", ROLE, "--poll", "0"],
        ["deploy", "--name", "gam-sl", "--image", IMAGE, "--model-data", "s3://b/m.tar.gz",
         "--role", ROLE, "--poll", "0", "--serverless-memory", "1024"],
        ["autoscale", "gam", "--min", "1", "--max", "2", "--target-invocations", "100"],
        ["logs", "gam"],
        ["invoke", "--name", "gam", "--input", str(data)],
        ["transform", "--model", "gam", "--input", str(data), "--job-name", "t1",
         "--poll", "0"],
        ["ls"],
        ["delete", "--name", "gam"],
        ["delete", "--name", "gam-half"],  # nothing there: each kind is looked for by name
    ]
    for args in commands:
        result = run(*args, env=env)
        assert result.exit_code == 0, (args, result.output)
    # What a real push does besides the engine: create a repository, check the manifest.
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "SAGEGAM_AWS_ENDPOINT_URL"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    session = connect()
    ecr.ensure_repository(session, "sagegam-new")
    ecr.check_manifest(session, "sagegam", "latest")


def test_the_caller_policy_holds_exactly_the_actions_the_commands_call(
    run_in_process, aws_env, moto_url, recorder, tmp_path, monkeypatch
):
    _prepare(moto_url, aws_env)
    recorder.start()
    _every_command(run_in_process, aws_env, tmp_path, monkeypatch)
    called = {action for r in recorder.stop() if (action := _iam_action(r))}
    documented = _actions(_policies()["caller"])
    assert called - documented == set()
    assert documented - called == set(NOT_CALLS)


def test_every_command_runs_as_a_user_holding_only_the_documented_actions(
    run_in_process, aws_env, restricted_user, restricted_moto_url, admin_keys, tmp_path,
    monkeypatch
):
    # moto enforces actions but not resource ARNs or conditions: those are stripped here.
    actions = _actions(_policies()["caller"])
    # moto asks HeadBucket for an action of that name; AWS asks s3:ListBucket.
    actions |= {"s3:HeadBucket"} if "s3:ListBucket" in actions else set()
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": sorted(actions), "Resource": "*"}]}
    user = restricted_user("documented-policy", policy)
    _prepare(restricted_moto_url, admin_keys)
    _every_command(run_in_process, {**aws_env, **user}, tmp_path, monkeypatch)
