"""Ingest facade: find every series under a folder, then load each as volumes.

Two steps, so that a batch can plan from headers alone and load pixels in workers:

>>> result = scan("sample_data")                      # headers only
>>> for record in result.series:
...     if record.status is Status.OK:
...         volumes = load(record)                     # pixels, geometry checks

The record types live in :mod:`imaging_triage.records` (re-exported here); a
:class:`SeriesRecord` is a plain picklable value (it crosses process boundaries).
"""

from __future__ import annotations

from pathlib import Path

from imaging_triage.records import (
    ScanResult,
    SeriesRecord,
    SourceKind,
    Status,
    Strictness,
    VolumeRole,
)
from imaging_triage.volume import Volume

__all__ = [
    "ScanResult",
    "SeriesRecord",
    "SourceKind",
    "Status",
    "Strictness",
    "VolumeRole",
    "load",
    "scan",
]


def scan(
    root: str | Path,
    *,
    strictness: Strictness = Strictness.STRICT,
    philips_scaling: str = "display",
) -> ScanResult:
    """Find every DICOM series and NIfTI file under ``root``, reading headers only.

    Parameters
    ----------
    root : str or Path
        A folder (walked recursively) or a single file.
    strictness : Strictness
        Treatment of uneven spacing and missing slices, recorded in each record. The
        default refuses them: a series that cannot be trusted is not silently repaired.
    philips_scaling : str
        Philips MR private scaling: ``"display"`` (RescaleSlope/Intercept, the values a
        viewer shows; default) or ``"precise"`` (floating-point values with the private
        scale slope, as dcm2niix writes by default).

    Returns
    -------
    ScanResult
        One :class:`SeriesRecord` per series/stack, with status and reason.
    """
    from imaging_triage.dicom.series import scan_tree

    return scan_tree(Path(root), strictness=strictness, philips_scaling=philips_scaling)


def load(record: SeriesRecord) -> list[Volume]:
    """Read the pixels of one series and return its volume(s) with correct geometry.

    Raises
    ------
    imaging_triage.errors.TriageError
        A typed error (``SeriesError``, ``PixelDataError``, ...) naming the file and the
        reason when the series cannot be trusted.
    """
    if record.kind is SourceKind.NIFTI:
        from imaging_triage.volume import load_nifti

        vol = load_nifti(record.files[0])
        return [vol]
    from imaging_triage.dicom.assemble import assemble_record

    return assemble_record(record)
