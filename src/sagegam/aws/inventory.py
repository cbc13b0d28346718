"""What bills: endpoints, and training and transform jobs that run; existence by name.

Every list goes through botocore's paginators: the APIs answer 10 items per call unless
asked for more, and the rest only to a NextToken.
"""

from __future__ import annotations

from collections.abc import Iterator
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


def exists(client: Any, listing: Listing, name: str) -> bool:
    """Whether an item called exactly ``name`` exists (read from the list API, so no error
    message has to be interpreted)."""
    # NameContains narrows the listing; the exact name decides.
    return any(item[listing.name] == name
               for item in items(client, listing, NameContains=name))
