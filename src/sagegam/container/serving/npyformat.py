"""The ``.npy`` bodies np.save writes for plain numeric arrays, read and written in bytes.

``np.load`` parses a header with ``ast.literal_eval`` and ``np.save`` builds one key by
key into a file object; for a one-row request that was more time than the rest of the
request together. The SageMaker SDK's NumpySerializer, like anyone calling ``np.save``,
writes one exact form: version 1.0, ``{'descr': '<f8', 'fortran_order': False, 'shape':
(1, 10), }`` padded with spaces to a 64-byte boundary. :func:`read` accepts only that form
(1-D or 2-D, C order, a plain numeric dtype, data of exactly the announced size) and
returns None for anything else, which the caller hands to ``np.load`` (so we read what
numpy reads). Nothing here evaluates the header; it is matched against a regular
expression. :func:`write` writes the bytes ``np.save`` writes (the tests compare them)."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

MAGIC = b"\x93NUMPY"
_VERSION_1 = b"\x01\x00"
_DATA_ALIGN = 64  # np.save pads the header so the data starts on this boundary
_GROWTH_DIGITS = 21  # and leaves room for the first axis to grow to this many digits

# Every plain number type in either byte order, by the descr np.save writes for it.
_DTYPES: dict[bytes, np.dtype[Any]] = {
    dtype.str.encode(): dtype for code in "?bBhHiIlLqQefd"
    for dtype in (np.dtype(code).newbyteorder("<"), np.dtype(code).newbyteorder(">"))}

# np.save's header for a C-ordered 1-D or 2-D array. Sizes are Python integer literals as
# literal_eval reads them (no leading zeros: "(01, 3)" is a SyntaxError to np.load) of at
# most 18 digits, so any one fits numpy's int64 (longer ones are np.load's to refuse).
_SIZE = rb"(0|[1-9][0-9]{0,17})"
_HEADER = re.compile(rb"\{'descr': '([<>|][a-z][0-9])', 'fortran_order': False, "
                     rb"'shape': \(" + _SIZE + rb",(?: " + _SIZE + rb")?\), \} *\n")


class CutShortError(ValueError):
    """A body with less data than its header announces."""


def read(body: bytes) -> NDArray[Any] | None:
    """The array of a body in np.save's plain form (a read-only view of ``body``), or None
    for ``np.load`` to read. A body shorter than its header announces is :class:`CutShortError`
    (np.load would first allocate what the header announces, however large)."""
    found = layout(body)
    if found is None:
        return None
    dtype, shape, offset = found
    expected, present = math.prod(shape) * dtype.itemsize, len(body) - offset
    if present < expected:
        raise CutShortError(f"its header announces a {shape} array of {dtype.str} "
                         f"({expected} bytes of data) and {present} bytes follow")
    if present > expected:
        return None  # np.load ignores the bytes after the data; so it reads this one
    return np.frombuffer(body, dtype, offset=offset).reshape(shape)


def layout(body: bytes) -> tuple[np.dtype[Any], tuple[int, ...], int] | None:
    """The dtype, shape and data offset of a body with np.save's plain header; None for
    anything else."""
    if body[6:8] != _VERSION_1 or not body.startswith(MAGIC):
        return None
    offset = 10 + int.from_bytes(body[8:10], "little")
    found = _parsed(body[10:offset])
    return None if found is None else (*found, offset)


@lru_cache(maxsize=256)
def _parsed(header: bytes) -> tuple[np.dtype[Any], tuple[int, ...]] | None:
    """A header's dtype and shape (cached: a client sends the same header over and over,
    and a dictionary lookup costs a tenth of the match)."""
    match = _HEADER.fullmatch(header)
    dtype = None if match is None else _DTYPES.get(match[1])
    if match is None or dtype is None:
        return None
    rows, columns = match[2], match[3]
    return dtype, (int(rows),) if columns is None else (int(rows), int(columns))


def write(array: NDArray[Any]) -> bytes | None:
    """The bytes np.save writes for a C-contiguous 1-D or 2-D numeric array; None for
    other arrays (np.save's job)."""
    descr = array.dtype.str.encode()
    if descr not in _DTYPES or array.ndim not in (1, 2) or not array.flags.c_contiguous:
        return None
    return b"".join((header(descr, array.shape), array.tobytes()))


@lru_cache(maxsize=256)
def header(descr: bytes, shape: tuple[int, ...]) -> bytes:
    """np.save's version 1.0 header for a C-ordered array (cached: a server answers a few
    shapes over and over)."""
    text = (b"{'descr': '%s', 'fortran_order': False, 'shape': %s, }"
            % (descr, repr(shape).encode()))
    text += b" " * (_GROWTH_DIGITS - len(str(shape[0])))
    padding = _DATA_ALIGN - (len(MAGIC) + 4 + len(text) + 1) % _DATA_ALIGN
    text += b" " * padding + b"\n"
    return MAGIC + _VERSION_1 + len(text).to_bytes(2, "little") + text
