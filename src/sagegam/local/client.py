"""Talking to a local endpoint over HTTP: SageMaker's health check and invocations.

Every endpoint's server is started with an id the runtime chose (``SAGEGAM_ENDPOINT_ID``)
and echoes it in ``X-Sagegam-Endpoint-Id``; an answer without the expected id comes from
some other server on that port and is not taken for the endpoint's.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from dataclasses import dataclass

from sagegam.local.state import LocalError

ID_HEADER = "X-Sagegam-Endpoint-Id"


class Unreachable(LocalError):  # noqa: N818 - reads as a state, like the others
    """No HTTP answer at all (refused, reset, cut short): worth another try."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str
    endpoint_id: str | None = None


def ping(url: str, timeout: float = 2.0) -> Answer | None:
    """GET /ping's answer, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url + "/ping", timeout=timeout) as response:
            return Answer(response.status, response.read(), "", response.headers.get(ID_HEADER))
    except urllib.error.HTTPError as error:
        return Answer(error.code, b"", "", error.headers.get(ID_HEADER))
    except (urllib.error.URLError, OSError, http.client.HTTPException):
        return None


def healthy(url: str, endpoint_id: str | None) -> bool:
    """SageMaker's health check, plus proof that the answer is this endpoint's."""
    answer = ping(url)
    return answer is not None and answer.status == 200 and (
        endpoint_id is None or answer.endpoint_id == endpoint_id)


def post(url: str, body: bytes | memoryview, content_type: str, accept: str | None = None,
         custom_attributes: str | None = None, timeout: float = 60.0,
         endpoint_id: str | None = None, path: str = "/invocations") -> Answer:
    """POST ``path`` (/invocations, or a multi-model route); an HTTP error status is an
    Answer, no answer is Unreachable."""
    headers = {"Content-Type": content_type}
    if accept:
        headers["Accept"] = accept
    if custom_attributes:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = custom_attributes
    request = urllib.request.Request(url + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = Answer(response.status, response.read(),
                            response.headers.get("Content-Type", ""),
                            response.headers.get(ID_HEADER))
    except urllib.error.HTTPError as error:
        answer = Answer(error.code, error.read(), error.headers.get("Content-Type", ""),
                        error.headers.get(ID_HEADER))
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        raise Unreachable(f"No answer from the endpoint at {url}: "
                          f"{_reason(error)}.") from None
    if endpoint_id is not None and answer.endpoint_id != endpoint_id:
        raise LocalError(f"The server at {url} is not this endpoint's (it answered as "
                         f"{answer.endpoint_id or 'an unknown server'}); the endpoint's own "
                         "server has stopped and another took its port.")
    return answer


def _reason(error: BaseException) -> str:
    if isinstance(error, http.client.IncompleteRead):
        return "the connection closed before the whole answer arrived (a worker died?)"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return str(error) or type(error).__name__
