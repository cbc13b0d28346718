"""Every AWS failure is one line with a remedy: preflight checks and errors from real servers."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.aws.conftest import REGION, SAGEMAKER_TRUST, allow_all_but

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sagegam:latest"


def _one_line_error(result: Any) -> str:
    """The failure's one line: the last on stderr, after any progress lines, and the only
    line of the error."""
    assert result.returncode == 1, result.stdout
    lines = result.stderr.decode().strip().splitlines()
    assert lines[-1].startswith("Error: ") and not any(
        line.startswith(("Error", "Traceback", "  ")) for line in lines[:-1]), lines
    return lines[-1]


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "train.csv"
    path.write_text("y,x\n1.0,2.0\n3.0,4.5\n")
    return path


def _deploy_args(role: str | None = None) -> list[str]:
    args = ["deploy", "--name", "n", "--image", IMAGE, "--model-data", "s3://b/m.tar.gz",
            "--poll", "0"]
    return [*args, "--role", role] if role else args


def test_without_boto3_the_aws_commands_say_which_extra_to_install(aws_env):
    # A Python where boto3 cannot be imported, as after `pip install sagegam` without [aws].
    script = (
        "import sys; sys.modules['boto3'] = None; from sagegam.cli import cli; "
        "cli(['aws', 'ls'], prog_name='sagegam')"
    )
    result = subprocess.run([sys.executable, "-c", script], env=aws_env, capture_output=True,
                            timeout=60, check=False)
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


def test_an_unknown_profile_is_reported_with_a_remedy(run_cli, aws_env):
    line = _one_line_error(run_cli(aws_env, "--profile", "nope", "ls"))
    assert line == ("Error: The config profile (nope) could not be found. Remedy: pass a "
                    "profile from ~/.aws/config (`aws configure list-profiles`).")


def test_an_unreachable_endpoint_is_one_line_with_a_remedy(run_cli, aws_env):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    env = {**aws_env, "SAGEGAM_AWS_ENDPOINT_URL": closed, "AWS_MAX_ATTEMPTS": "1"}
    line = _one_line_error(run_cli(env, "ls"))
    assert line.startswith(f'Error: AWS is unreachable: Could not connect to the endpoint URL: '
                           f'"{closed}/"')
    assert line.endswith(f"Remedy: check the network connection and the region; "
                         f"SAGEGAM_AWS_ENDPOINT_URL/AWS_ENDPOINT_URL sends every call to "
                         f"{closed}.")


def test_an_invoke_body_file_that_does_not_exist_is_named(run_cli, aws_env, tmp_path):
    result = run_cli(aws_env, "invoke", "--name", "gam", "--input", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert result.stderr.decode().strip().splitlines()[-1] == (
        f"Error: Invalid value for '--input': '{tmp_path / 'nope'}': No such file or directory")


def test_train_without_a_role_says_how_to_give_one(run_cli, aws_env, tmp_path):
    line = _one_line_error(
        run_cli(aws_env, "train", "--image", IMAGE, "--train", str(_csv(tmp_path)))
    )
    assert "No execution role given" in line
    assert "SAGEGAM_ROLE_ARN" in line


def test_a_local_path_that_does_not_exist_is_refused_before_any_call(
    run_cli, aws_env, client, role_arn
):
    line = _one_line_error(run_cli(aws_env, "train", "--image", IMAGE, "--role", role_arn,
                                   "--train", "mybucket/train.csv"))
    assert line == ("Error: --train 'mybucket/train.csv' is neither an existing file or folder "
                    "nor an s3:// URI.")
    assert client("s3").list_buckets()["Buckets"] == []


def test_a_role_that_does_not_exist_is_reported(run_cli, aws_env, client):
    line = _one_line_error(run_cli(aws_env, *_deploy_args("arn:aws:iam::123456789012:role/No")))
    assert "IAM role 'No' does not exist" in line
    assert client("sagemaker").list_models()["Models"] == []


def test_a_role_sagemaker_cannot_assume_is_reported_from_its_trust_policy(run_cli, aws_env, client):
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    arn = client("iam").create_role(
        RoleName="Ec2Only", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    line = _one_line_error(run_cli({**aws_env, "SAGEGAM_ROLE_ARN": arn}, *_deploy_args()))
    assert "cannot be assumed by SageMaker" in line
    assert "update-assume-role-policy --role-name Ec2Only" in line
    assert client("sagemaker").list_models()["Models"] == []


@pytest.mark.parametrize(
    ("args", "action"),
    [
        (["ls"], "sagemaker:ListEndpoints"),
        (["push", "--engine", "podman", "--dry-run"], "ecr:GetAuthorizationToken"),
        (["delete", "--name", "x"], "sagemaker:ListEndpoints"),
    ],
)
def test_missing_permissions_come_back_as_the_apis_own_access_denied(
    run_cli, aws_env, powerless_keys, args, action
):
    line = _one_line_error(run_cli({**aws_env, **powerless_keys}, *args))
    assert "AccessDenied" in line
    assert f"not authorized to perform: {action}" in line
    assert "Remedy: grant this identity the action named above" in line


def _restricted(url: str, keys: dict[str, str], service: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name=REGION,
                        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"])


def test_a_role_preflight_denied_iam_get_role_warns_and_goes_on(
    run_cli, aws_env, restricted_user, restricted_moto_url, admin_keys
):
    # sagemaker:* and iam:PassRole but no iam:GetRole: SageMaker checks the role itself.
    user = restricted_user(f"no-getrole-{uuid.uuid4().hex[:6]}", allow_all_but(["iam:GetRole"]))
    name = f"gam-{uuid.uuid4().hex[:6]}"
    role = "arn:aws:iam::123456789012:role/SageMakerExecution"
    result = run_cli({**aws_env, **user}, "deploy", "--name", name, "--image", IMAGE,
                     "--model-data", "s3://b/m.tar.gz", "--role", role, "--poll", "0")
    assert result.returncode == 0, result.stderr
    assert result.stderr.decode().splitlines()[0] == (
        "warning: could not read IAM role 'SageMakerExecution' (AccessDenied for iam:GetRole); "
        "going on, and SageMaker will check the role when the request starts.")
    model = _restricted(restricted_moto_url, admin_keys, "sagemaker").describe_model(ModelName=name)
    assert model["ExecutionRoleArn"] == role


def test_a_failed_upload_is_one_line_naming_the_file_and_the_remedy(
    run_cli, aws_env, restricted_user, restricted_moto_url, admin_keys, tmp_path
):
    # boto3 raises S3UploadFailedError, which is neither a ClientError nor a BotoCoreError.
    user = restricted_user(f"no-upload-{uuid.uuid4().hex[:6]}", allow_all_but(["s3:PutObject"]))
    role_name = f"Role{uuid.uuid4().hex[:6]}"
    role = _restricted(restricted_moto_url, admin_keys, "iam").create_role(
        RoleName=role_name, AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))["Role"]["Arn"]
    data = _csv(tmp_path)
    line = _one_line_error(run_cli({**aws_env, **user}, "train", "--image", IMAGE, "--role", role,
                                   "--train", str(data), "--job-name", "gam-upload"))
    assert line.startswith(f"Error: Failed to upload {data} to sagemaker-{REGION}-123456789012/"
                           "sagegam/gam-upload/input/train/train.csv: PutObject failed: "
                           "AccessDenied")
    assert line.endswith("Remedy: grant this identity the action named above (least-privilege "
                         "policy: docs/aws.md#a-least-privilege-policy).")
    jobs = _restricted(restricted_moto_url, admin_keys, "sagemaker").list_training_jobs()
    assert [j["TrainingJobName"] for j in jobs["TrainingJobSummaries"]] == []


def test_a_wait_that_times_out_says_the_job_keeps_billing(aws_env, monkeypatch):
    from sagegam.aws.errors import PreflightError
    from sagegam.aws.sagemaker import wait

    started = time.monotonic()
    with pytest.raises(PreflightError, match="still InProgress after 0s; it keeps running "
                                             r"\(and billing\) on AWS. Remedy: "):
        wait(lambda: {"S": "InProgress"}, "S", {"Completed"}, timeout=0, poll=0)
    assert time.monotonic() - started < 5
