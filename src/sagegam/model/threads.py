"""Keeping two BLAS libraries from fighting over two cores.

numpy and scipy wheels each ship their own OpenBLAS. The fit alternates scipy's threaded
``dsyrk`` (the Gram) with small numpy matrix products, and after each call a library's idle
threads spin for a while: on a 2-core machine numpy's spinning threads starved scipy's,
and a 100,000-row logistic fit took 10.7 s instead of 2.7 s. numpy's products here are
tiny, so its BLAS runs single-threaded during a fit; scipy's keeps every core.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_numpy_blas() -> Iterator[None]:
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()
    paths = [lib.filepath for lib in controller.lib_controllers
             if lib.user_api == "blas" and "numpy" in lib.filepath]
    others = [lib for lib in controller.lib_controllers
              if lib.user_api == "blas" and lib.filepath not in paths]
    if not paths or not others:  # one shared BLAS: nothing to keep apart
        yield
        return
    with controller.select(filepath=paths).limit(limits=1):
        yield
