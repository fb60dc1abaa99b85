"""Plain record types shared by ingest, batch and the viewer.

This module imports nothing from the package, so every layer may use it without an
import cycle: :mod:`imaging_triage.dicom` fills these records, :mod:`imaging_triage.ingest`
is the facade that returns them, and :mod:`imaging_triage.batch` and the viewer read them.
Records are picklable values (they cross process boundaries).
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any


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


class SourceKind(str, enum.Enum):
    """What kind of input a record was found in."""

    #: DICOM instances (classic, enhanced or mosaic)
    DICOM = "dicom"
    #: a NIfTI file
    NIFTI = "nifti"


class VolumeRole(str, enum.Enum):
    """What a volume of a series is, where a series holds more than one kind of image."""

    #: an ordinary image volume (3-D, or 4-D for repeated positions)
    IMAGE = "image"
    #: diffusion-weighted volumes (4-D, one volume per b-value and direction)
    DIFFUSION = "diffusion"
    #: the scanner's isotropic (trace) diffusion image
    TRACE = "trace"
    #: apparent diffusion coefficient map (ADC)
    ADC = "adc"
    #: exponential ADC map (eADC)
    EADC = "eadc"


#: keys of the former free-form ``SeriesRecord.extra`` dict and the typed fields they map to
_EXTRA_FIELDS = {
    "frames": "frames",
    "header": "header",
    "strictness": "strictness",
    "philips_scaling": "philips_scaling",
    "root": "root",
}


class _ExtraView(dict[str, Any]):
    """A dict of a record's typed fields, for code written against the former ``extra``.

    Reads see the fields as they are when the view is made; writing a key writes the field.
    """

    def __init__(self, record: SeriesRecord) -> None:
        super().__init__(
            {key: _plain(getattr(record, attr)) for key, attr in _EXTRA_FIELDS.items()}
        )
        self._record = record

    def __setitem__(self, key: str, value: Any) -> None:
        try:
            attr = _EXTRA_FIELDS[key]
        except KeyError:
            raise KeyError(f"SeriesRecord has no field for extra[{key!r}]") from None
        setattr(self._record, attr, Strictness(value) if attr == "strictness" else value)
        super().__setitem__(key, value)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


@dataclass
class SeriesRecord:
    """One series (or one stack of a series) found by :func:`imaging_triage.ingest.scan`.

    Attributes
    ----------
    input : str
        Location relative to the scanned root: the common folder of its files (DICOM)
        or the file (NIfTI).
    files : list of str
        Absolute paths of the files holding its frames.
    kind : SourceKind
        DICOM or NIfTI.
    key : str
        Stable short identifier (hash of series UID and stack key), unique within a scan.
    stack_label : str
        When one series was split into several stacks, what distinguishes this one
        (e.g. ``"coronal"``, ``"ImageType ADD"``, ``"echo 2"``); empty otherwise.
    role : VolumeRole
        What the images are where a series mixes kinds (diffusion-weighted, trace, ADC).
    joined_stacks : int
        Number of stacks of one acquisition joined into this record (segmented
        acquisitions, e.g. a thin posterior-fossa segment and a thick cerebrum segment).
    frames : list
        The :class:`imaging_triage.dicom.frame.Frame` objects the assembler places.
    header : dict
        Series-level header summary (modality, UIDs, acquisition parameters).
    strictness : Strictness
        Treatment of uneven spacing chosen at scan time.
    philips_scaling : str
        Philips MR value convention chosen at scan time (``"display"`` or ``"precise"``).
    root : str
        The scanned root, set by :mod:`imaging_triage.batch` (to hide it in messages).
    patient_key : str
        Keyed hash of PatientID and its issuer, to match studies of one patient; made
        with a per-process secret, never shown or stored (empty when unknown).
    study_date : str
        StudyDate (DICOM DA, ``YYYYMMDD``), or empty.
    """

    input: str
    files: list[str]
    kind: SourceKind = SourceKind.DICOM
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
    stack_label: str = ""
    joined_stacks: int = 1
    role: VolumeRole = VolumeRole.IMAGE
    frames: list[Any] = field(default_factory=list, repr=False)
    header: dict[str, Any] = field(default_factory=dict, repr=False)
    strictness: Strictness = Strictness.STRICT
    philips_scaling: str = "display"
    root: str = ""
    patient_key: str = ""
    study_date: str = ""

    @property
    def extra(self) -> dict[str, Any]:
        """Deprecated dict-like view of ``frames``, ``header``, ``strictness``,
        ``philips_scaling`` and ``root``; use the typed fields."""
        return _ExtraView(self)

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
    """Everything :func:`imaging_triage.ingest.scan` found under a root."""

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
