"""What bills (endpoints, running jobs) and deleting an endpoint with its config and model.

Every list goes through botocore's paginators: the APIs answer 10 items per call unless
asked for more, and the rest only to a NextToken.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sagegam.aws.errors import api_errors
from sagegam.aws.session import Aws

PAGE_SIZE = 100  # the most the SageMaker list APIs return per call


@dataclass(frozen=True)
class Listing:
    kind: str
    method: str  # client method, e.g. "list_endpoints"
    key: str  # the response's list
    name: str  # the member holding a name
    status: str  # the member holding a status


ENDPOINTS = Listing("endpoint", "list_endpoints", "Endpoints", "EndpointName", "EndpointStatus")
CONFIGS = Listing("endpoint config", "list_endpoint_configs", "EndpointConfigs",
                  "EndpointConfigName", "")
MODELS = Listing("model", "list_models", "Models", "ModelName", "")
TRAINING = Listing("training job", "list_training_jobs", "TrainingJobSummaries",
                   "TrainingJobName", "TrainingJobStatus")
TRANSFORM = Listing("transform job", "list_transform_jobs", "TransformJobSummaries",
                    "TransformJobName", "TransformJobStatus")
# Jobs bill while they run and while they stop; endpoints bill in every status but deleted.
BILLING = ((ENDPOINTS, None), (TRAINING, "InProgress"), (TRAINING, "Stopping"),
           (TRANSFORM, "InProgress"), (TRANSFORM, "Stopping"))


def items(client: Any, listing: Listing, **filters: Any) -> Iterator[dict[str, Any]]:
    """Every item of a list API, page after page."""
    pages = client.get_paginator(listing.method).paginate(
        **filters, PaginationConfig={"PageSize": PAGE_SIZE}
    )
    for page in pages:
        yield from page[listing.key]


def running(aws: Aws) -> list[dict[str, str]]:
    """What bills: every endpoint, and training and transform jobs running or stopping."""
    sm = aws.client("sagemaker")
    rows: list[dict[str, str]] = []
    with api_errors():
        for listing, status in BILLING:
            filters = {"StatusEquals": status} if status else {}
            rows += [
                {"kind": listing.kind, "name": item[listing.name], "status": item[listing.status]}
                for item in items(sm, listing, **filters)
            ]
    return rows


def _exists(client: Any, listing: Listing, name: str) -> bool:
    # NameContains narrows the listing; the exact name decides.
    return any(item[listing.name] == name
               for item in items(client, listing, NameContains=name))


def delete(aws: Aws, name: str) -> list[str]:
    """Delete endpoint, endpoint config and model called ``name``; return what was deleted.

    Whatever does not exist (a half-finished deploy) is skipped: existence is read from
    the list APIs, so no error message has to be interpreted.
    """
    sm = aws.client("sagemaker")
    deletions: tuple[tuple[Listing, Callable[[], Any]], ...] = (
        (ENDPOINTS, lambda: sm.delete_endpoint(EndpointName=name)),
        (CONFIGS, lambda: sm.delete_endpoint_config(EndpointConfigName=name)),
        (MODELS, lambda: sm.delete_model(ModelName=name)),
    )
    deleted: list[str] = []
    with api_errors():
        for listing, call in deletions:
            if _exists(sm, listing, name):
                call()
                deleted.append(f"{listing.kind} {name}")
    return deleted
