"""BLAS threads during a fit: one thread for small matrices, all cores for the Gram.

The fit's linear algebra is on matrices of a few hundred rows (Cholesky factors, solves,
products in the smoothness search), where threads cannot pay for their synchronisation,
and on a busy machine they are descheduled mid-barrier: a 200 x 200 Cholesky then took
22 ms instead of 0.2 ms. Worse, numpy and scipy wheels each ship their own OpenBLAS, and
one library's idle threads spin against the other's. So a fit runs all BLAS on one thread
and gives threads back only to the one large operation, the Gram's ``dsyrk`` over
millions of rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_defaults: dict[str, int] = {}


def _controller() -> Any:
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()
    for lib in controller.lib_controllers:
        if lib.user_api == "blas":
            _defaults.setdefault(lib.filepath, lib.num_threads)
    return controller


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    with _controller().limit(limits=1, user_api="blas"):
        yield


@contextmanager
def threaded_blas() -> Iterator[None]:
    """Inside :func:`single_threaded_blas`: scipy's BLAS at its usual thread count."""
    controller = _controller()
    scipy_blas = [lib.filepath for lib in controller.lib_controllers
                  if lib.user_api == "blas" and "numpy" not in lib.filepath]
    threads = max((_defaults.get(path, 1) for path in scipy_blas), default=1)
    if not scipy_blas or threads <= 1:
        yield
        return
    with controller.select(filepath=scipy_blas).limit(limits=threads):
        yield
