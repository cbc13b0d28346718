"""SIGTERM as SageMaker sends it (StopTrainingJob, MaxRuntimeInSeconds): stop at once,
except inside a section that must not be cut in half.

SIGINT (Ctrl-C in a terminal running ``train`` or ``sagegam local train``) stops the job
the same way. The handler raises :class:`JobStopped` wherever the job is, so a long read
or fit stops within seconds. Writing the model is the exception: a signal that lands while the
artifact's two files are written waits until both are, so a stopped job leaves a whole
model or none.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from sagegam.container.errors import JobStopped


class StopOnSigterm:
    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.deferring = False
        self.pending = False
        self.finished = False
        self.received = "SIGTERM"

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.finished:
            return  # the job is writing its outcome and exiting anyway
        self.received = signal.Signals(signum).name
        if self.deferring:
            self.pending = True
            return
        raise JobStopped()

    def finish(self) -> None:
        """From now on a SIGTERM changes nothing: the outcome is being written."""
        self.finished = True

    @contextmanager
    def installed(self) -> Iterator[StopOnSigterm]:
        previous = {number: signal.signal(number, self._handle) for number in self.SIGNALS}
        try:
            yield self
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Run the body whole; a SIGTERM received meanwhile stops the job right after."""
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False
        if self.pending:
            raise JobStopped()
