"""The memory limit every decoder honours, in one place.

``IMAGING_TRIAGE_MAX_BYTES`` (default 4 GiB) bounds what one instance, one volume, one
inflated (deflate or gzip) stream, or one NIfTI image may allocate. Sizes are checked
*before* allocating, from the stream that will be decoded, so a small hostile file that
declares a huge image gives a :class:`~imaging_triage.errors.ResourceLimitError`.
"""

from __future__ import annotations

import os
import zlib
from typing import BinaryIO

from imaging_triage.errors import ResourceLimitError

#: the environment variable that sets the limit (bytes)
ENV_VAR = "IMAGING_TRIAGE_MAX_BYTES"

#: default limit on the decoded size of one instance, stream or volume (bytes)
DEFAULT_MAX_BYTES = int(os.environ.get(ENV_VAR, str(4 * 1024**3)))

_CHUNK = 1 << 20


def check_declared(needed: int, what: str, path: str | None, max_bytes: int) -> None:
    """Refuse when ``needed`` bytes (declared by ``what``) exceed ``max_bytes``.

    Raises
    ------
    ResourceLimitError
        Naming the file, the declared size and the limit, and what to do.
    """
    if needed > max_bytes:
        raise ResourceLimitError(
            f"{what} declares {needed / 1e9:.2f} GB, over the {max_bytes / 1e9:.2f} GB limit; "
            f"raise {ENV_VAR} if the file is genuine",
            path=path,
        )


def inflated_size(fh: BinaryIO, path: str | None, max_bytes: int) -> int:
    """Size of a raw deflate stream read from ``fh``, counted without keeping it.

    Reads to the end of the stream in chunks and stops as soon as the count passes
    ``max_bytes``; memory stays at a few MB whatever the stream declares.

    Raises
    ------
    ResourceLimitError
        The stream inflates to more than ``max_bytes``.
    """
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total = 0
    while not inflater.eof:
        data = fh.read(_CHUNK)
        if not data:
            break
        while data:
            try:
                total += len(inflater.decompress(data, _CHUNK))
            except zlib.error:
                return total  # damaged stream: the reader reports it when it inflates
            check_declared(total, "the deflated dataset", path, max_bytes)
            data = inflater.unconsumed_tail
    return total
