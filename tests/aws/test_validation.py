"""Every value an `aws` command sends is checked before any call: generated from botocore's model.

For each command:
1. every click option either lands in a request field listed in ``sagegam.aws.fields.FIELDS``
   or is named below as local-only (a new option fails this until it is listed);
2. a run against moto, recorded by moto's own request recorder, shows each listed field
   carrying its option's value, and every value sent within its shape's constraints;
3. for each constraint of each listed field's shape in botocore's service model (enum,
   pattern, length, range, entries) and each limit SageMaker documents on top
   (``DOCUMENTED``), a value breaking it is generated here, and the command refuses it in
   one line naming the option before a single request reaches moto.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest

from sagegam.aws.fields import DOCUMENTED, FIELDS, Extra, Field
from sagegam.aws.validation import python_pattern
from sagegam.cli.aws_commands import aws as aws_group

MODELS = botocore.session.Session()
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sagegam:latest"
ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"  # made by the role_arn fixture
BODY = b"1.5\n2.5\n"
NUMBERS = ("integer", "long", "float", "double")

# Options that reach no API request, and why.
NOT_SENT = {
    "train": {"--wait": "only decides whether to poll", "--poll": "seconds between polls"},
    "deploy": {"--timeout": "how long to poll", "--poll": "seconds between polls"},
    "invoke": {"--explain": "a fixed CustomAttributes value",
               "--labels": "a fixed CustomAttributes value",
               "--std": "a fixed CustomAttributes value",
               "--interval": "a number in (0, 1) that click checks: a short CustomAttributes "
                             "value"},
    "transform": {"--wait": "only decides whether to poll", "--poll": "seconds between polls"},
    "push": {"--image": "the local image the engine tags", "--engine": "which engine runs",
             "--dry-run": "prints instead of pushing"},
    "delete": {},
    "ls": {"--json": "output format"},
    "autoscale": {},
    "logs": {"NAME": "names the log group /aws/sagemaker/Endpoints/NAME; checked as the "
                     "EndpointName it names (sagegam.aws.fields.ENDPOINT_NAME)"},
}

# Fields the recorded push (a dry run: it creates and pushes nothing) does not send, with
# the shape their value is checked against: the same as the repository name it does send,
# and the tag ECR's PutImage receives from the engine.
UNRECORDED = {"CreateRepository": "RepositoryName", "PutImage": "ImageTag"}

# A valid run of each command: every option that is sent, with a value of its own.
GOOD: dict[str, dict[str, Any]] = {
    "train": {"--image": IMAGE, "--role": ROLE, "--train": "s3://data/train",
              "--validation": "s3://data/validation", "--content-type": "text/csv",
              "--output-path": "s3://data/out", "--instance-type": "ml.c5.xlarge",
              "--instance-count": "2", "--max-runtime": "600", "-H": {"df": "12"},
              "--job-name": "gam-1", "--no-wait": None},
    # Serverless, asynchronous and multi-model endpoints exclude each other: three runs.
    "deploy": [{"--name": "gam", "--image": IMAGE, "--model-data": "s3://data/m.tar.gz",
                "--role": ROLE, "--instance-type": "ml.t2.medium", "--instance-count": "2",
                "--async-output": "s3://data/async", "--env": {"SAGEMAKER_MAX_PAYLOAD_IN_MB": "20"},
                "--poll": "0"},
               {"--name": "gam-sl", "--image": IMAGE, "--model-data": "s3://data/m.tar.gz",
                "--role": ROLE, "--serverless-memory": "2048", "--max-concurrency": "7",
                "--poll": "0"},
               {"--name": "gam-mm", "--image": IMAGE, "--multi-model": "s3://data/models/",
                "--role": ROLE, "--poll": "0"}],
    "autoscale": {"NAME": "gam", "--min": "1", "--max": "3", "--target-invocations": "250.0"},
    "invoke": {"--name": "gam", "--input": BODY, "--content-type": "text/csv",
               "--accept": "text/csv", "--target-model": "store-1.tar.gz"},
    "transform": {"--model": "gam", "--input": "s3://data/in", "--output": "s3://data/out",
                  "--job-name": "t-1", "--content-type": "text/csv", "--accept": "text/csv",
                  "--split-type": "Line", "--batch-strategy": "SingleRecord",
                  "--max-payload-mb": "5", "--max-concurrent": "3", "--assemble-with": "Line",
                  "--join-source": "Input", "--input-filter": "$[1:]",
                  "--output-filter": "$[0,-1]", "--instance-type": "ml.m5.xlarge",
                  "--instance-count": "2", "--no-wait": None},
    "delete": {"--name": "gam"},
    "push": {"--dry-run": None, "--engine": "podman", "--repository": "gam-images",
             "--tag": "v1"},
}


def _runs(command: str) -> list[dict[str, Any]]:
    good = GOOD[command]
    return good if isinstance(good, list) else [good]


def _good(command: str, option: str) -> dict[str, Any]:
    """The first valid run of ``command`` that gives ``option``."""
    return next(run for run in _runs(command) if option in run)


def _args(command: str, values: dict[str, Any], tmp_path: Any) -> list[str]:
    args = [command]
    positional = [value for option, value in values.items() if not option.startswith("-")]
    for option, value in values.items():
        if not option.startswith("-"):
            continue
        if isinstance(value, dict):
            for key, item in value.items():
                args += [option, f"{key}={item}"]
        elif isinstance(value, bytes):
            path = tmp_path / "body"
            path.write_bytes(value)
            args += [option, str(path)]
        else:
            args += [option] if value is None else [option, str(value)]
    return [*args, "--", *map(str, positional)] if positional else args


def _shape(field: Field) -> Any:
    found = MODELS.get_service_model(field.service).operation_model(field.operation).input_shape
    for step in field.path.split("."):
        found = found.members[step.removesuffix("[]")]
        found = found.member if step.endswith("[]") else found
    return found


def _fits(shape: Any, value: Any, where: str) -> Iterator[str]:
    """The constraints of ``shape`` that ``value`` breaks (botocore's model, read here)."""
    meta, kind = shape.metadata, shape.type_name
    if kind == "structure":
        for name, item in value.items():
            yield from _fits(shape.members[name], item, f"{where}.{name}")
    elif kind in ("list", "map"):
        if not meta.get("min", 0) <= len(value) <= meta.get("max", len(value)):
            yield f"{where}: {len(value)} entries"
        for key, item in (value.items() if kind == "map" else enumerate(value)):
            if kind == "map":
                yield from _fits(shape.key, key, f"{where} key")
            yield from _fits(shape.value if kind == "map" else shape.member, item,
                             f"{where}[{key}]")
    elif kind in NUMBERS:
        if not meta.get("min", value) <= value <= meta.get("max", value):
            yield f"{where}: {value} out of range"
    elif kind in ("string", "blob"):
        if not meta.get("min", 0) <= len(value) <= meta.get("max", len(value)):
            yield f"{where}: length {len(value)}"
        if getattr(shape, "enum", None) and value not in shape.enum:
            yield f"{where}: {value!r} not in the enum"
        if kind == "string" and "pattern" in meta and \
                not re.fullmatch(python_pattern(meta["pattern"]), value):
            yield f"{where}: {value!r} does not match {meta['pattern']}"


def _values_at(params: Any, path: str) -> list[Any]:
    found = [params]
    for step in path.split("."):
        found = [item.get(step.removesuffix("[]")) for item in found if isinstance(item, dict)]
        if step.endswith("[]"):
            found = [element for items in found for element in items or []]
    return found


def _sent_value(shape: Any, value: Any) -> Any:
    if shape.type_name in ("float", "double"):
        return float(value)
    return int(value) if shape.type_name in NUMBERS else value


# --- 1. every option is accounted for ----------------------------------------------------


@pytest.mark.parametrize("command", sorted(NOT_SENT))
def test_every_option_of_a_command_is_validated_or_named_local_only(command):
    listed = {field.option for field in FIELDS.get(command, ())}
    for param in aws_group.commands[command].params:
        names = set(param.opts) | set(param.secondary_opts) | {param.human_readable_name}
        assert names & (listed | set(NOT_SENT[command])), \
            f"`aws {command}` option {sorted(names)} is neither in FIELDS nor local-only"


# --- 2. the map is right, and what is sent fits the model --------------------------------


def _prepare(command: str, client: Any, moto_url: str) -> None:
    api = client("sagemaker")
    if command in ("delete", "autoscale"):
        api.create_model(ModelName="gam", PrimaryContainer={"Image": IMAGE}, ExecutionRoleArn=ROLE)
        api.create_endpoint_config(EndpointConfigName="gam", ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": "gam", "InitialInstanceCount": 1,
            "InstanceType": "ml.t2.medium"}])
        api.create_endpoint(EndpointName="gam", EndpointConfigName="gam")
    if command == "invoke":
        import urllib.request

        answer = {"Body": "[1.0]", "ContentType": "text/csv",
                  "InvokedProductionVariant": "AllTraffic", "CustomAttributes": ""}
        urllib.request.urlopen(urllib.request.Request(
            f"{moto_url}/moto-api/static/sagemaker/endpoint-results",
            data=json.dumps({"results": [answer]}).encode(),
            headers={"Content-Type": "application/json"}, method="POST"), timeout=10).close()


def _record_runs(command: str, run_in_process: Any, recorder: Any,
                 tmp_path: Any) -> list[tuple[dict[str, Any], list[Any]]]:
    recorded = []
    for values in _runs(command):
        recorder.start()
        result = run_in_process(*_args(command, values, tmp_path))
        recorded.append((values, recorder.stop()))
        assert result.exit_code == 0, result.output
    return recorded


@pytest.mark.parametrize("command", sorted(GOOD))
def test_each_field_carries_its_option_and_everything_sent_fits_the_model(
    command, run_in_process, recorder, client, role_arn, moto_url, tmp_path
):
    _prepare(command, client, moto_url)
    recorded = _record_runs(command, run_in_process, recorder, tmp_path)
    for field in FIELDS[command]:
        if field.operation in UNRECORDED:
            assert _shape(field).name == UNRECORDED[field.operation]
            continue
        values, sent = next((v, s) for v, s in recorded if field.option in v)
        requests = [r for r in sent if (r.service, r.operation) == (field.service,
                                                                     field.operation)]
        assert requests, f"{field} was never sent"
        expected = _sent_value(_shape(field), values[field.option])
        for request in requests:
            assert expected in _values_at(request.params, field.path), (field, request)
    sent = [request for _, requests in recorded for request in requests]
    modelled = [r for r in sent if r.service in ("sagemaker", "sagemaker-runtime", "ecr",
                                                 "application-autoscaling")]
    assert modelled
    for request in modelled:
        shape = MODELS.get_service_model(request.service).operation_model(
            request.operation).input_shape
        assert list(_fits(shape, request.params, request.operation)) == []


# --- 3. a value breaking each constraint is refused before any call ----------------------

_CANDIDATES = ("a b", "a_b", "-a", "ab-", "Ab", "\u00fc", "x\ny", "a//b", "mybucket/out",
               "https://b/k", "arn:aws:iam::123456789012:user/someone-not-a-role")


def _bad_strings(shape: Any, limits: Extra, good: str) -> Iterator[tuple[str, str]]:
    meta = shape.metadata
    if getattr(shape, "enum", None):
        yield "enum", good + "x"
        return
    if limits.scheme:
        yield "scheme", "https://bucket/key"
    if "max" in meta:
        yield f"max length {meta['max']}", good + "a" * (meta["max"] + 1 - len(good))
    for pattern, name in ((meta.get("pattern"), "pattern"), (limits.pattern, "documented")):
        if pattern:
            compiled = re.compile(python_pattern(pattern))
            misfits = [c for c in _CANDIDATES if not compiled.fullmatch(c)
                       and meta.get("min", 0) <= len(c) <= meta.get("max", len(c))]
            if misfits:
                yield f"{name} {pattern}", misfits[0]


def _bad_values(shape: Any, limits: Extra, good: Any) -> Iterator[tuple[str, Any]]:
    meta, kind = shape.metadata, shape.type_name
    if kind in NUMBERS:
        lowers = [v for v in (meta.get("min"), limits.minimum) if v is not None]
        uppers = [v for v in (meta.get("max"), limits.maximum) if v is not None]
        if lowers:
            yield f"minimum {max(lowers)}", max(lowers) - 1
        if uppers:
            yield f"maximum {min(uppers)}", min(uppers) + 1
    elif kind == "blob":
        yield f"max bytes {meta['max']}", b"1\n" * (meta["max"] // 2 + 1)
    elif kind == "map":
        yield f"max entries {meta['max']}", {f"k{i}": "1" for i in range(meta["max"] + 1)}
        key, value = next(iter(good.items()))
        for constraint, bad in _bad_strings(shape.key, Extra(), key):
            yield f"key {constraint}", {bad: value}
        for constraint, bad in _bad_strings(shape.value, Extra(), value):
            yield f"value {constraint}", {key: bad}
    elif kind == "string":
        yield from _bad_strings(shape, limits, good)


def _cases() -> Iterator[Any]:
    seen: set[tuple[str, str, str]] = set()
    for command, fields in FIELDS.items():
        for field in fields:
            limits = DOCUMENTED.get((field.operation, field.path), Extra())
            good = _good(command, field.option)[field.option]
            for constraint, bad in _bad_values(_shape(field), limits, good):
                key = (command, field.option, repr(bad))
                if key not in seen:
                    seen.add(key)
                    yield pytest.param(command, field.option, bad, id=(
                        f"{command} {field.option} {field.operation}.{field.path}: "
                        f"{constraint}"))


def _names(option: str) -> tuple[str, ...]:
    return ("-H", "--hyperparameter") if option == "-H" else (option,)


@pytest.mark.parametrize(("command", "option", "bad"), list(_cases()))
def test_a_value_its_field_would_refuse_is_refused_in_one_line_before_any_call(
    command, option, bad, run_in_process, recorder, tmp_path
):
    recorder.start()
    result = run_in_process(*_args(command, {**_good(command, option), option: bad}, tmp_path))
    sent = recorder.stop()
    assert result.exit_code != 0, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert any(name in errors[0] for name in _names(option)), errors[0]
    assert "Traceback" not in result.output
    assert sent == []


def test_an_unknown_hyperparameter_is_refused_with_the_images_own_list(
    run_in_process, recorder, tmp_path
):
    from sagegam.container.hyperparameters import SETTINGS

    recorder.start()
    result = run_in_process(*_args("train", {**GOOD["train"], "-H": {"dff": "20"}}, tmp_path))
    assert recorder.stop() == []
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert line.startswith("Error: -H dff: the training image has no hyperparameter 'dff' "
                           "(did you mean df?)")
    assert all(setting.name in line for setting in SETTINGS)


@pytest.mark.parametrize("spelling", ["DF", "max_iter", "Train_File", "sagemaker_program"])
def test_hyperparameter_spellings_the_image_accepts_pass_the_client_check(spelling):
    from sagegam.aws.validation import check_hyperparameter_names
    from sagegam.container.hyperparameters import parse

    check_hyperparameter_names({spelling: "20"})  # no error, and the image agrees:
    parse({spelling: "20" if spelling != "Train_File" else "data.csv"})


def test_a_region_botocore_does_not_know_is_refused_before_any_call(run_in_process, recorder):
    recorder.start()
    result = run_in_process("--region", "us-esat-1", "ls")
    assert recorder.stop() == []
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: --region 'us-esat-1' is not a region where")
    assert "us-east-1" in result.stderr and len(result.stderr.strip().splitlines()) == 1
