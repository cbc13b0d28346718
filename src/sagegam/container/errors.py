"""Errors the container reports to its caller, told apart by whose fault they are."""

from __future__ import annotations


class UserError(Exception):
    """Bad data, settings or layout: the user can fix it; the message says how."""


class JobStopped(Exception):  # noqa: N818 - a stop is not an error
    """SageMaker (or a user) stopped the job with SIGTERM."""
