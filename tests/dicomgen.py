"""Build small synthetic DICOM series for tests, from a template, with known geometry.

Pixel values are a linear function of the patient position (LPS mm), so that any
correct placement of the voxels, even after trilinear resampling, reproduces
``value_at(x, y, z)`` up to rounding: a geometry error shows up as a value error.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage, generate_uid

#: orientation name -> (row cosine, column cosine), LPS
ORIENTATIONS = {
    "axial": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "coronal": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    "sagittal": ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
}


def value_at(lps: np.ndarray) -> np.ndarray:
    """HU-like value of a point: linear in position, range about -400..+400 near the origin."""
    lps = np.asarray(lps, dtype=np.float64)
    return 2.0 * lps[..., 0] - 3.0 * lps[..., 1] + 4.0 * lps[..., 2] + 40.0


@dataclass
class SeriesSpec:
    """What to generate."""

    n: int = 12
    rows: int = 24
    cols: int = 20
    pixel_spacing: tuple[float, float] = (1.0, 1.2)  # (row spacing, column spacing)
    step: float = 3.0
    orientation: str = "axial"
    tilt_deg: float = 0.0  # gantry tilt: slice plane rotated about the row direction
    modality: str = "CT"
    slope: float | Sequence[float] = 1.0
    intercept: float = -1024.0
    origin: tuple[float, float, float] = (-12.0, -15.0, -20.0)
    series_number: int = 2
    description: str = "TEST AXIAL"
    image_type: tuple[str, ...] = ("ORIGINAL", "PRIMARY", "AXIAL")
    write_tilt_tag: bool = True
    study_uid: str = field(default_factory=generate_uid)
    series_uid: str = field(default_factory=generate_uid)
    frame_uid: str = field(default_factory=generate_uid)
    values: Callable[[np.ndarray], np.ndarray] = value_at


def slice_geometry(spec: SeriesSpec, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(position, row cosine, column cosine) of slice ``k``.

    With tilt, the column cosine is rotated about the row cosine by the tilt angle while
    positions advance along the unrotated normal (the table direction), exactly as a
    tilted CT gantry writes its headers.
    """
    r, c = (np.array(v, dtype=float) for v in ORIENTATIONS[spec.orientation])
    table = np.cross(r, c)
    if spec.tilt_deg:
        t = math.radians(spec.tilt_deg)
        c = math.cos(t) * c + math.sin(t) * np.cross(r, c)
    position = np.array(spec.origin) + k * spec.step * table
    return position, r, c


def pixel_centres(spec: SeriesSpec, k: int) -> np.ndarray:
    """LPS of every pixel centre of slice ``k``, shape (rows, cols, 3)."""
    position, r, c = slice_geometry(spec, k)
    jj, ii = np.meshgrid(np.arange(spec.rows), np.arange(spec.cols), indexing="ij")
    dr, dc = spec.pixel_spacing
    return position + ii[..., None] * dc * r + jj[..., None] * dr * c


def make_dataset(spec: SeriesSpec, k: int, instance: int | None = None) -> Dataset:
    """One slice as a pydicom FileDataset-like Dataset with file meta."""
    position, r, c = slice_geometry(spec, k)
    slope = spec.slope[k] if isinstance(spec.slope, Sequence) else spec.slope
    hu = spec.values(pixel_centres(spec, k))
    stored = np.round((hu - spec.intercept) / slope)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    sop_class = CTImageStorage if spec.modality == "CT" else MRImageStorage
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.PatientName = "TEST^GEOMETRY"
    ds.PatientID = "TEST0001"
    ds.StudyInstanceUID = spec.study_uid
    ds.StudyDate = "20260101"
    ds.StudyTime = "120000"
    ds.StudyID = "1"
    ds.SeriesInstanceUID = spec.series_uid
    ds.FrameOfReferenceUID = spec.frame_uid
    ds.Modality = spec.modality
    ds.Manufacturer = "TESTVENDOR"
    ds.SeriesNumber = spec.series_number
    ds.SeriesDescription = spec.description
    ds.InstanceNumber = instance if instance is not None else k + 1
    ds.ImageType = list(spec.image_type)
    ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
    ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*r, *c)]
    ds.PixelSpacing = [f"{v:.6f}" for v in spec.pixel_spacing]
    ds.SliceThickness = f"{spec.step * math.cos(math.radians(spec.tilt_deg)):.4f}"
    if spec.tilt_deg and spec.write_tilt_tag:
        ds.GantryDetectorTilt = f"{spec.tilt_deg:.2f}"
    ds.Rows = spec.rows
    ds.Columns = spec.cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    signed = stored.min() < 0
    ds.PixelRepresentation = 1 if signed else 0
    ds.RescaleSlope = f"{slope:g}"
    ds.RescaleIntercept = f"{spec.intercept:g}"
    ds.PixelData = stored.astype(np.int16 if signed else np.uint16).tobytes()
    return ds


def write_series(
    folder: Path,
    spec: SeriesSpec,
    *,
    order: Sequence[int] | None = None,
    skip: Sequence[int] = (),
    names: Callable[[int], str] | None = None,
) -> list[Path]:
    """Write slices of ``spec`` to ``folder``; return the paths.

    Parameters
    ----------
    order : sequence of int, optional
        Slice indices in the order files (and InstanceNumbers) are written: a shuffled
        order makes InstanceNumber disagree with position.
    skip : sequence of int
        Slice indices left out (missing slices).
    names : callable, optional
        File name for the n-th file written (default ``IM{n:04d}``, no extension).
    """
    folder.mkdir(parents=True, exist_ok=True)
    indices = [k for k in (order if order is not None else range(spec.n)) if k not in skip]
    paths = []
    for n, k in enumerate(indices):
        ds = make_dataset(spec, k, instance=n + 1)
        path = folder / (names(n) if names else f"IM{n:04d}")
        pydicom.dcmwrite(path, ds, enforce_file_format=True)
        paths.append(path)
    return paths


def write_dwi(
    folder: Path,
    spec: SeriesSpec,
    encodings: Sequence[tuple[float, Sequence[float]]],
    *,
    first: int = 0,
) -> list[Path]:
    """A classic diffusion series: one volume of ``spec`` per (b-value, gradient) of
    ``encodings`` (gradient in LPS, DiffusionGradientOrientation), volume after volume.

    Parameters
    ----------
    first : int
        Number of the first file and instance (to add volumes beside others).
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for v, (b, g) in enumerate(encodings):
        for k in range(spec.n):
            n = first + v * spec.n + k
            ds = make_dataset(spec, k, instance=n)
            ds.DiffusionBValue = b
            ds.DiffusionGradientOrientation = list(g)
            ds.AcquisitionNumber = v + 1
            path = folder / f"IM{n:04d}"
            pydicom.dcmwrite(path, ds, enforce_file_format=True)
            paths.append(path)
    return paths


def write_localizer(folder: Path, spec: SeriesSpec, name: str = "LOC0001") -> Path:
    """A single localizer image inside the same series (sagittal, ImageType LOCALIZER)."""
    loc = SeriesSpec(
        n=1,
        rows=spec.rows,
        cols=spec.cols,
        orientation="sagittal",
        modality=spec.modality,
        image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
        study_uid=spec.study_uid,
        series_uid=spec.series_uid,
        frame_uid=spec.frame_uid,
        series_number=spec.series_number,
    )
    ds = make_dataset(loc, 0, instance=999)
    path = folder / name
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path


def fine_structure(lps: np.ndarray) -> np.ndarray:
    """HU-like values with fine structure: thin lines and small dots on a soft-tissue floor.

    Lines 1-3 mm wide run along y at every 9 mm of x (their width growing with x), and
    2 mm dots sit on a 7 mm lattice; both appear only in some 11 mm bands of z, so that
    neighbouring slices differ and any blur between slices shows.
    """
    lps = np.asarray(lps, dtype=np.float64)
    x, y, z = lps[..., 0], lps[..., 1], lps[..., 2]
    width = 1.0 + np.mod(np.floor(x / 9.0), 3.0)
    lines = (np.mod(x, 9.0) < width) & (np.mod(z, 11.0) < 5.0)
    dots = (np.mod(x, 7.0) < 2.0) & (np.mod(y, 7.0) < 2.0) & (np.mod(z + 3.0, 11.0) < 4.0)
    return 40.0 + 900.0 * lines + 500.0 * dots + 0.5 * z


def segmented_specs(
    *,
    tilt_deg: float = 18.5,
    thin: tuple[int, float] = (8, 4.0),
    thick: tuple[int, float] = (8, 7.0),
    junction: float = 1.08,
    rows: int = 40,
    cols: int = 36,
    values: Callable[[np.ndarray], np.ndarray] = fine_structure,
) -> tuple[SeriesSpec, SeriesSpec]:
    """A GE-style head CT acquired in two segments of one series.

    A thin lower segment (ImageType ``ORIGINAL\\PRIMARY\\AXIAL\\ADD``) and a thick upper
    one (``ORIGINAL\\PRIMARY\\AXIAL``), one Series Instance UID, one orientation, positions
    on one line along the table; ``thin`` and ``thick`` are (slices, distance between
    slice planes in mm), ``junction`` the distance between the two segments' facing
    slice planes (mm).
    """
    import dataclasses

    cos = math.cos(math.radians(tilt_deg))
    lower = SeriesSpec(
        n=thin[0],
        rows=rows,
        cols=cols,
        pixel_spacing=(0.9, 0.9),
        step=thin[1] / cos,
        tilt_deg=tilt_deg,
        image_type=("ORIGINAL", "PRIMARY", "AXIAL", "ADD"),
        description="HEAD",
        values=values,
    )
    table = np.cross(*(np.array(v) for v in ORIENTATIONS["axial"]))
    start = np.array(lower.origin) + ((thin[0] - 1) * thin[1] + junction) / cos * table
    upper = dataclasses.replace(
        lower,
        n=thick[0],
        step=thick[1] / cos,
        origin=(float(start[0]), float(start[1]), float(start[2])),
        image_type=("ORIGINAL", "PRIMARY", "AXIAL"),
    )
    return lower, upper


def write_segmented(
    folder: Path, lower: SeriesSpec, upper: SeriesSpec, *, skip_upper: Sequence[int] = ()
) -> list[Path]:
    """Write both segments into ``folder`` with one run of InstanceNumbers."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, k in enumerate(range(lower.n)):
        ds = make_dataset(lower, k, instance=n + 1)
        paths.append(folder / f"IM{n + 1:04d}")
        pydicom.dcmwrite(paths[-1], ds, enforce_file_format=True)
    for k in range(upper.n):
        if k in skip_upper:
            continue
        n = lower.n + k + 1
        ds = make_dataset(upper, k, instance=n)
        paths.append(folder / f"IM{n:04d}")
        pydicom.dcmwrite(paths[-1], ds, enforce_file_format=True)
    return paths


def head_ct(lps: np.ndarray) -> np.ndarray:
    """HU of the sample head phantom (skull, brain, ventricles, posterior fossa) at LPS points."""
    from imaging_triage.phantom import HeadSpec, classify, ct_values

    ras = np.asarray(lps, dtype=np.float64) * np.array([-1.0, -1.0, 1.0])
    spec = HeadSpec()
    tissue, lesion = classify(ras, spec)
    return ct_values(tissue, lesion, spec)


def head_segmented_specs(tilt_deg: float = 18.5) -> tuple[SeriesSpec, SeriesSpec]:
    """A GE-style two-segment head CT of the phantom head: 10 thin slices (4 mm) over the
    posterior fossa, 12 thick ones (7 mm) over the cerebrum, 1.6 mm pixels."""
    lower, upper = segmented_specs(
        tilt_deg=tilt_deg,
        thin=(10, 4.0),
        thick=(12, 7.0),
        junction=1.08,
        rows=128,
        cols=120,
        values=head_ct,
    )
    for spec in (lower, upper):
        spec.pixel_spacing = (1.6, 1.6)
    shift = np.array([-96.0, -110.0, -68.0]) - np.array(lower.origin)
    for spec in (lower, upper):
        x, y, z = (float(v) for v in np.array(spec.origin) + shift)
        spec.origin = (x, y, z)
    return lower, upper


#: Raw Data Storage (PS3.4 B.5; IOD PS3.3 A.37)
RAW_DATA_STORAGE = "1.2.840.10008.5.1.4.1.1.66"


def make_raw_data(spec: SeriesSpec, *, with_matrix: bool = False) -> Dataset:
    """A Raw Data Storage object belonging to the series of ``spec``.

    Built from the modules of the Raw Data IOD (PS3.3 A.37): Patient, General Study,
    General Series, Frame of Reference, General Equipment, Acquisition Context, Raw Data
    and SOP Common; no Image Pixel or Image Plane module. The payload is private, as
    vendors write it. ``with_matrix`` adds Rows/Columns (some exports keep them).
    """
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = RAW_DATA_STORAGE
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    # Patient, General Study
    ds.PatientName = "TEST^RAW"
    ds.PatientID = "TEST0001"
    ds.StudyInstanceUID = spec.study_uid
    ds.StudyDate = "20260101"
    ds.StudyTime = "120000"
    ds.StudyID = "1"
    # General Series, Frame of Reference, General Equipment
    ds.Modality = spec.modality
    ds.SeriesInstanceUID = spec.series_uid
    ds.SeriesNumber = spec.series_number
    ds.SeriesDescription = spec.description
    ds.FrameOfReferenceUID = spec.frame_uid
    ds.PositionReferenceIndicator = ""
    ds.Manufacturer = "TESTVENDOR"
    # Acquisition Context (Type 2 sequence, empty), Raw Data module
    ds.AcquisitionContextSequence = []
    ds.InstanceNumber = 9999
    ds.ContentDate = "20260101"
    ds.ContentTime = "120000"
    ds.CreatorVersionUID = generate_uid()
    if with_matrix:
        ds.Rows, ds.Columns = spec.rows, spec.cols
    # private payload
    block = ds.private_block(0x7FE1, "TESTVENDOR RAW", create=True)
    block.add_new(0x10, "OB", bytes(range(256)) * 4)
    # SOP Common
    ds.SOPClassUID = RAW_DATA_STORAGE
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    return ds


def make_enhanced(spec: SeriesSpec) -> Dataset:
    """The series of ``spec`` as one Enhanced MR (or CT) Image object, frames in order.

    Geometry per frame (Plane Position), shared orientation, spacing and rescale; the
    same values as :func:`make_dataset` writes slice by slice.
    """
    from pydicom.sequence import Sequence

    slices = [make_dataset(spec, k) for k in range(spec.n)]
    first = slices[0]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    sop = "1.2.840.10008.5.1.4.1.1.4.1" if spec.modality == "MR" else "1.2.840.10008.5.1.4.1.1.2.1"
    ds.file_meta.MediaStorageSOPClassUID = sop
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    for keyword in (
        "PatientName", "PatientID", "StudyInstanceUID", "StudyDate", "StudyTime", "StudyID",
        "SeriesInstanceUID", "FrameOfReferenceUID", "Modality", "Manufacturer", "SeriesNumber",
        "SeriesDescription", "Rows", "Columns", "SamplesPerPixel", "PhotometricInterpretation",
        "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
    ):  # fmt: skip
        setattr(ds, keyword, getattr(first, keyword))
    ds.SOPClassUID = sop
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.InstanceNumber = 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NONE"]
    ds.NumberOfFrames = spec.n
    shared = Dataset()
    orientation, measures, transform = Dataset(), Dataset(), Dataset()
    orientation.ImageOrientationPatient = first.ImageOrientationPatient
    measures.PixelSpacing = first.PixelSpacing
    measures.SliceThickness = first.SliceThickness
    transform.RescaleSlope = first.RescaleSlope
    transform.RescaleIntercept = first.RescaleIntercept
    transform.RescaleType = "US"
    shared.PlaneOrientationSequence = Sequence([orientation])
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PixelValueTransformationSequence = Sequence([transform])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per_frame = []
    for k, s in enumerate(slices):
        item, position, content = Dataset(), Dataset(), Dataset()
        position.ImagePositionPatient = s.ImagePositionPatient
        content.InStackPositionNumber = k + 1
        content.StackID = "1"
        item.PlanePositionSequence = Sequence([position])
        item.FrameContentSequence = Sequence([content])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    ds.PixelData = b"".join(s.PixelData for s in slices)
    return ds


def csa2_bytes(tags: dict[str, tuple[str, list[str]]]) -> bytes:
    """Build a CSA2 ("SV10") header: ``{name: (vr, [values])}`` (see :func:`csa_bytes`)."""
    return csa_bytes(tags)


def csa_bytes(
    tags: dict[str, tuple[str, list[str]]],
    *,
    csa1: bool = False,
    name_slack: bytes = b"",
    pad: bytes = b"\0",
    tail: bytes = b"",
) -> bytes:
    """Build a Siemens CSA header: ``{name: (vr, [values])}``.

    CSA2 layout: b"SV10", 4 unused bytes, uint32 n_tags, uint32 77; per tag a 64-byte name,
    int32 vm, 4-byte vr, int32 syngodt, int32 n_items, int32 77; per item four int32
    (the second is the item length) then the value bytes padded to 4. CSA1 has no
    "SV10" prefix, and its items' first int32 is the length plus the item count of the
    second tag (from the second tag on).

    Parameters
    ----------
    csa1 : bool
        Write the CSA1 layout.
    name_slack : bytes
        Written after each name's terminating NUL inside its 64-byte slot (what a
        careless writer leaves there).
    pad : bytes
        One byte that fills the padding after each value.
    tail : bytes
        Bytes after the last tag.
    """
    out = bytearray() if csa1 else bytearray(b"SV10\x04\x03\x02\x01")
    out += struct.pack("<2I", len(tags), 77)
    # Siemens writes 6 items (unused ones empty) for scalars, vm items for vectors
    counts = [max(6, len(values)) for _vr, values in tags.values()]
    for tag_no, (name, (vr, values)) in enumerate(tags.items()):
        n_items = counts[tag_no]
        raw_name = (name.encode() + b"\0" + name_slack)[:64]
        out += struct.pack("<64si4s3i", raw_name, len(values), vr.encode(), 0, n_items, 77)
        base = counts[1] if csa1 and tag_no >= 1 else 0
        for i in range(n_items):
            payload = (values[i].encode() + b"\0") if i < len(values) else b""
            out += struct.pack("<4i", len(payload) + base, len(payload), 77, len(payload))
            out += payload + pad * (-len(payload) % 4)
    return bytes(out + tail)
