"""STOW-RS: send DICOM files (our structured reports) to a DICOMweb server."""

from __future__ import annotations

import os
from collections.abc import Sequence

from imaging_triage.errors import PacsResponseError
from imaging_triage.pacs.client import PacsClient


def push_files(client: PacsClient, paths: Sequence[str | os.PathLike[str]]) -> int:
    """Store each file on the server, one request per file; return how many were stored.

    Raises
    ------
    PacsResponseError
        If the server reports a failure for an instance (its Failed SOP Sequence).
    PacsAuthError, PacsConnectionError
        If the server refuses or cannot be reached.
    """
    import pydicom

    stored = 0
    for path in paths:
        ds = pydicom.dcmread(path)
        answer = client.store([ds])
        failed = answer.get("FailedSOPSequence") if answer is not None else None
        if failed:
            reason = failed[0].get("FailureReason", "")
            raise PacsResponseError(
                f"the server refused {os.fspath(path)} (failure reason {reason}); see its log",
                path=client.url,
            )
        stored += 1
    return stored
