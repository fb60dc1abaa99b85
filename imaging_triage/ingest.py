"""Ingest facade: find every series under a folder, then load each as volumes.

Two steps, so that a batch can plan from headers alone and load pixels in workers:

>>> result = scan("sample_data")                      # headers only
>>> for record in result.series:
...     if record.status is Status.OK:
...         volumes = load(record)                     # pixels, geometry checks

:class:`SeriesRecord` is a plain picklable value (it crosses process boundaries).
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imaging_triage.volume import Volume


class Status(str, enum.Enum):
    """What became of a series; the ``status`` column of ``manifest.csv``."""

    #: the series is (or became) a volume
    OK = "ok"
    #: skipped because a finished output already exists (resume)
    SKIPPED = "skipped"
    #: not a volume by nature (localizer, secondary capture, report): dropped with a reason
    DROPPED = "dropped"
    #: should be a volume but cannot be trusted or read: failed with a reason
    FAILED = "failed"


class Strictness(str, enum.Enum):
    """How to treat uneven slice spacing and missing slices (always reported)."""

    #: refuse the series (status failed)
    STRICT = "strict"
    #: resample onto an even grid and record the correction
    RESAMPLE = "resample"


@dataclass
class SeriesRecord:
    """One series (or one stack of a series) found by :func:`scan`.

    Attributes
    ----------
    input : str
        Location relative to the scanned root: the common folder of its files (DICOM)
        or the file (NIfTI).
    files : list of str
        Absolute paths of the files holding its frames.
    kind : str
        ``"dicom"`` or ``"nifti"``.
    key : str
        Stable short identifier (hash of series UID and stack key), unique within a scan.
    """

    input: str
    files: list[str]
    kind: str = "dicom"
    key: str = ""
    series_uid: str = ""
    study_uid: str = ""
    modality: str = ""
    description: str = ""
    series_number: int | None = None
    status: Status = Status.OK
    reason: str = ""
    shape: tuple[int, ...] = ()
    spacing_mm: tuple[float, ...] = ()
    tilt_deg: float = 0.0
    n_frames: int = 0
    #: keyed hash of PatientID, to match studies of one patient (never shown; see
    #: :func:`imaging_triage.dicom.series.patient_key`)
    patient_key: str = ""
    #: StudyDate (DICOM DA, YYYYMMDD), or empty
    study_date: str = ""
    #: anything the assembler needs again (stack key, strictness, ...)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def output_stem(self) -> str:
        """File-name stem for outputs: series number, description, key (no identifiers)."""
        desc = re.sub(r"[^A-Za-z0-9]+", "_", self.description).strip("_")[:40] or self.modality
        number = f"{self.series_number:04d}" if self.series_number is not None else "0000"
        return f"{number}_{desc}_{self.key[:8]}" if desc else f"{number}_{self.key[:8]}"

    @property
    def study_folder(self) -> str:
        """Output folder of the study: a hash of the Study Instance UID (no identifiers)."""
        basis = self.study_uid or self.input
        return "study_" + hashlib.sha1(basis.encode()).hexdigest()[:10]


@dataclass
class ScanResult:
    """Everything :func:`scan` found under a root."""

    root: str
    series: list[SeriesRecord] = field(default_factory=list)
    #: files that are not DICOM or NIfTI (counted, not listed one by one)
    skipped_files: int = 0
    #: DICOMDIR index files seen (skipped)
    dicomdir_files: int = 0
    #: copies of an instance already seen (same SOP Instance UID, position and number)
    duplicate_files: int = 0
    #: files that looked like DICOM but could not be parsed, with the reason
    unreadable: list[tuple[str, str]] = field(default_factory=list)


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
    if record.kind == "nifti":
        from imaging_triage.volume import load_nifti

        vol = load_nifti(record.files[0])
        return [vol]
    from imaging_triage.dicom.assemble import assemble_record

    return assemble_record(record)
