"""Processes the local runtime starts: is one alive, and stopping one as `docker stop` does."""

from __future__ import annotations

import contextlib
import os
import signal
import time


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive, and not ours to judge
    return True


def stop_group(pid: int, grace: float) -> None:
    """SIGTERM to the process group led by ``pid`` (it drains), SIGKILL after ``grace`` s."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    pause = 0.002  # a server stops in about 10 ms; one that drains may take seconds
    while time.monotonic() < deadline:
        _reap(pid)
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        if _only_zombies(pid):
            return
        time.sleep(pause)
        pause = min(2 * pause, 0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    _reap(pid)


def _only_zombies(group: int) -> bool:
    """Whether every process left in ``group`` has exited and waits only to be reaped.

    A server's orphans (multiprocessing's resource tracker, once the server is gone) are
    reaped by init, which some sandboxes do only every few seconds; they hold nothing.
    False where /proc does not tell.
    """
    states = []
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                # "pid (comm) state ppid pgrp ...": comm may hold spaces or parentheses
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:
            states.append(fields[0])
    return bool(states) and all(state == b"Z" for state in states)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # our own child when started by this process
