"""boto3 sessions: credentials, region and the emulator endpoint override, checked up front.

Every client goes through :meth:`Aws.client`, so the endpoint override
(``SAGEGAM_AWS_ENDPOINT_URL`` or boto3's own ``AWS_ENDPOINT_URL``) applies everywhere, and
every session shares one botocore data loader with :mod:`sagegam.aws.validation`, so the
service models the options are checked against are read from disk once.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any

from sagegam.aws.errors import PreflightError, api_errors

ENDPOINT_ENV = "SAGEGAM_AWS_ENDPOINT_URL"


def _boto3() -> Any:
    try:
        import boto3
    except ImportError as error:
        raise PreflightError(
            "boto3 is not installed. Remedy: pip install 'sagegam[aws]'"
        ) from error
    return boto3


@functools.cache
def models() -> Any:
    """A botocore session used only to read service models (no credentials, no calls)."""
    _boto3()
    import botocore.session

    return botocore.session.Session()


def endpoint_override() -> str | None:
    return os.environ.get(ENDPOINT_ENV) or os.environ.get("AWS_ENDPOINT_URL") or None


@dataclass
class Aws:
    """A boto3 session plus the endpoint override, handing out clients."""

    session: Any
    endpoint_url: str | None

    @property
    def region(self) -> str:
        return str(self.session.region_name)

    def client(self, service: str) -> Any:
        kwargs: dict[str, Any] = {}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        with api_errors():
            return self.session.client(service, **kwargs)


def _session(region: str | None, profile: str | None) -> Any:
    import botocore.session

    core = botocore.session.Session()
    core.register_component("data_loader", models().get_component("data_loader"))
    with api_errors():  # an unknown --profile fails here
        return _boto3().session.Session(
            botocore_session=core, region_name=region, profile_name=profile
        )


def check_region(region: str, given: bool) -> None:
    """Refuse a region botocore does not know for SageMaker (a typo would only time out)."""
    known = sorted(
        {
            name
            for partition in models().get_available_partitions()
            for name in models().get_available_regions("sagemaker", partition)
        }
    )
    if region not in known:
        source = "--region" if given else "The configured region"
        raise PreflightError(
            f"{source} {region!r} is not a region where botocore knows SageMaker. Remedy: use "
            f"one of {', '.join(known)} (or upgrade boto3 if the region is new)."
        )


def connect(region: str | None = None, profile: str | None = None) -> Aws:
    """Open a session and check credentials and region, with a remedy for each."""
    session = _session(region, profile)
    with api_errors():
        credentials = session.get_credentials()
    if credentials is None:
        raise PreflightError(
            "No AWS credentials found. Remedy: run `aws configure`, set AWS_PROFILE, or "
            "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
        )
    if not session.region_name:
        raise PreflightError(
            "No AWS region configured. Remedy: pass --region, export AWS_DEFAULT_REGION, "
            "or set `region` in ~/.aws/config."
        )
    check_region(session.region_name, given=region is not None)
    return Aws(session=session, endpoint_url=endpoint_override())
