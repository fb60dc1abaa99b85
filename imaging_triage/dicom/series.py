"""Group DICOM instances into series and stacks, and decide what each can become.

``scan_tree`` reads headers only. Every instance becomes frames
(:mod:`~imaging_triage.dicom.frame`); frames are grouped by Series Instance UID and then
split where orientation, image type, echo, matrix or pixel spacing differ, because each
of those makes a different volume. Non-volumes are dropped with a reason: localizers and
scouts, secondary captures, objects without pixels. Each stack's geometry is checked
(:mod:`~imaging_triage.dicom.geometry`) so that ``scan`` already reports shape, spacing,
tilt and problems.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import secrets
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imaging_triage.dicom import mosaic, multiframe, philips
from imaging_triage.dicom.discover import FileKind, is_dicomdir, read_header, walk
from imaging_triage.dicom.frame import Frame
from imaging_triage.dicom.geometry import Spacing, StackGeometry, analyse, same_orientation
from imaging_triage.errors import InputError, NotDicomError, TriageError, UnsupportedError
from imaging_triage.ingest import ScanResult, SeriesRecord, Status, Strictness

logger = logging.getLogger(__name__)

#: Secondary Capture Image Storage SOP classes (PS3.4 B.5): screen captures, reports
SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"
#: ImageType values that mark a localizer / scout / survey image
LOCALIZER_TYPES = {"LOCALIZER", "SCOUT", "SURVEY", "TOPOGRAM", "SCANOGRAM"}
#: cross-sectional image storage SOP classes (PS3.4 B.5): they must carry an image
IMAGE_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.2",  # CT Image
    "1.2.840.10008.5.1.4.1.1.2.1",  # Enhanced CT Image
    "1.2.840.10008.5.1.4.1.1.2.2",  # Legacy Converted Enhanced CT Image
    "1.2.840.10008.5.1.4.1.1.4",  # MR Image
    "1.2.840.10008.5.1.4.1.1.4.1",  # Enhanced MR Image
    "1.2.840.10008.5.1.4.1.1.4.4",  # Legacy Converted Enhanced MR Image
    "1.2.840.10008.5.1.4.1.1.128",  # PET Image
    "1.2.840.10008.5.1.4.1.1.130",  # Enhanced PET Image
    "1.2.840.10008.5.1.4.1.1.20",  # NM Image
}
#: modalities whose images must carry patient-space geometry to be volumes
VOLUME_MODALITIES = {"CT", "MR", "PT", "NM"}


@dataclass(frozen=True)
class Drop:
    """Why an instance does not become a volume."""

    status: Status
    reason: str


def _text(ds: Any, keyword: str, default: str = "") -> str:
    value = ds.get(keyword, default)
    if value is None:
        return default
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _float(ds: Any, keyword: str, default: float | None = None) -> float | None:
    try:
        value = ds.get(keyword, None)
        if value is None or value == "":
            return default
        if type(value).__name__ == "MultiValue" or isinstance(value, (list, tuple)):
            value = value[0]
        return float(value)
    except (TypeError, ValueError, IndexError):
        return default


def _int(ds: Any, keyword: str) -> int | None:
    value = _float(ds, keyword)
    return int(value) if value is not None else None


def _floats(ds: Any, keyword: str, n: int) -> tuple[float, ...] | None:
    value = ds.get(keyword, None)
    if value is None:
        return None
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return out if len(out) == n else None


def image_type(ds: Any) -> tuple[str, ...]:
    """ImageType values, upper case."""
    value = ds.get("ImageType", None)
    if value is None:
        return ()
    try:
        return tuple(str(v).strip().upper() for v in value)
    except TypeError:
        return (str(value).strip().upper(),)


def classify_instance(ds: Any) -> Drop | None:
    """Return why an instance cannot be part of a volume, or ``None`` if it can.

    Parameters
    ----------
    ds : pydicom.Dataset
        Header of one instance.
    """
    meta = getattr(ds, "file_meta", None)
    sop = _text(ds, "SOPClassUID") or (
        _text(meta, "MediaStorageSOPClassUID") if meta is not None else ""
    )
    if sop.startswith(SECONDARY_CAPTURE_PREFIX):
        return Drop(Status.DROPPED, "secondary capture (screen capture or report), not a volume")
    if "Rows" not in ds or "Columns" not in ds:
        name = _sop_name(sop)
        modality = _text(ds, "Modality").upper()
        if not sop or sop in IMAGE_SOP_CLASSES or modality in VOLUME_MODALITIES:
            return Drop(
                Status.FAILED,
                f"incomplete header ({name} without Rows/Columns): the file is truncated or "
                "damaged; re-export it from the archive",
            )
        return Drop(Status.DROPPED, f"no image data ({name}), not a volume")
    types = set(image_type(ds))
    if types & LOCALIZER_TYPES:
        return Drop(Status.DROPPED, "localizer/scout image (ImageType LOCALIZER), not a volume")
    if multiframe.is_enhanced(ds) or "ImagePositionPatient" in ds:
        return None
    modality = _text(ds, "Modality").upper()
    if modality in VOLUME_MODALITIES:
        return Drop(
            Status.FAILED,
            "no ImagePositionPatient/ImageOrientationPatient: the image cannot be placed in "
            "patient space; re-export the series with its geometry",
        )
    return Drop(Status.DROPPED, f"2-D {modality or 'image'} without patient geometry, not a volume")


def _sop_name(sop: str) -> str:
    try:
        from pydicom.uid import UID

        name = UID(sop).name
        return name if name and name != sop else f"SOP class {sop or 'unknown'}"
    except Exception:  # pragma: no cover - defensive: pydicom UID lookup
        return f"SOP class {sop or 'unknown'}"


def _is_mosaic(ds: Any) -> bool:
    return "MOSAIC" in image_type(ds)


def frame_from_classic(ds: Any, path: str, *, philips_scaling: str = "display") -> Frame:
    """Build the frame of a classic single-frame image.

    Raises
    ------
    InputError
        A geometry attribute is present but malformed.
    """
    iop = _floats(ds, "ImageOrientationPatient", 6)
    ipp = _floats(ds, "ImagePositionPatient", 3)
    ps = _floats(ds, "PixelSpacing", 2)
    if iop is None or ipp is None:
        raise InputError(
            "ImagePositionPatient/ImageOrientationPatient missing or malformed; "
            "re-export the series with its geometry",
            path=path,
        )
    if ps is None:
        raise InputError("PixelSpacing missing or malformed; cannot measure the image", path=path)
    slope = _float(ds, "RescaleSlope", 1.0) or 1.0
    intercept = _float(ds, "RescaleIntercept", 0.0) or 0.0
    if not (math.isfinite(slope) and math.isfinite(intercept)):
        raise InputError(
            f"RescaleSlope/RescaleIntercept not finite ({slope}, {intercept}); the header is "
            "damaged",
            path=path,
        )
    manufacturer = _text(ds, "Manufacturer").upper()
    if "PHILIPS" in manufacturer and _text(ds, "Modality").upper() == "MR":
        slope, intercept = _philips_transform(ds, philips_scaling, slope, intercept)
    if "ModalityLUTSequence" in ds:
        raise UnsupportedError(
            "Modality LUT Sequence (PS3.3 C.11.1) instead of RescaleSlope/Intercept is not "
            "supported; the stored values are not the modality values",
            path=path,
        )
    rows = _int(ds, "Rows") or 0
    cols = _int(ds, "Columns") or 0
    echo = _float(ds, "EchoTime")
    stack_key = (
        _text(ds, "SeriesInstanceUID"),
        _int(ds, "SeriesNumber"),
        _text(ds, "ConvolutionKernel"),
        image_type(ds),
        _int(ds, "EchoNumbers"),
        rows,
        cols,
        round(ps[0], 4),
        round(ps[1], 4),
        _int(ds, "SamplesPerPixel") or 1,
    )
    order_key = (
        _int(ds, "TemporalPositionIdentifier") or 0,
        _int(ds, "AcquisitionNumber") or 0,
        _text(ds, "AcquisitionTime") or _text(ds, "ContentTime"),
        _float(ds, "TriggerTime", 0.0) or 0.0,
        _int(ds, "InstanceNumber") or 0,
    )
    meta: dict[str, Any] = {
        "sop_uid": _text(ds, "SOPInstanceUID"),
        "image_type": image_type(ds),
        "samples": _int(ds, "SamplesPerPixel") or 1,
        "bits_stored": _int(ds, "BitsStored"),
        "signed": _int(ds, "PixelRepresentation") == 1,
        "has_rescale": "RescaleSlope" in ds and "RescaleIntercept" in ds,
        "kernel": _text(ds, "ConvolutionKernel"),
    }
    if echo is not None:
        meta["EchoTime"] = echo
    return Frame(
        path=path,
        frame_index=None,
        tile_index=None,
        position=(ipp[0], ipp[1], ipp[2]),
        row_cosine=(iop[0], iop[1], iop[2]),
        col_cosine=(iop[3], iop[4], iop[5]),
        row_spacing=ps[0],
        col_spacing=ps[1],
        rows=rows,
        cols=cols,
        slope=slope,
        intercept=intercept,
        stack_key=stack_key,
        order_key=order_key,
        instance_number=_int(ds, "InstanceNumber"),
        slice_thickness=_float(ds, "SliceThickness"),
        meta=meta,
    )


def _philips_transform(
    ds: Any, convention: str, slope: float, intercept: float
) -> tuple[float, float]:
    try:
        return philips.value_transform(ds, convention)
    except (ValueError, TypeError, KeyError):
        return slope, intercept


def frames_from_dataset(ds: Any, path: str, *, philips_scaling: str = "display") -> list[Frame]:
    """Every frame an instance contributes (1 for classic, N for enhanced or mosaic)."""
    try:
        if multiframe.is_enhanced(ds):
            return list(multiframe.frames_from_enhanced(ds, path, philips_scaling=philips_scaling))
        base = frame_from_classic(ds, path, philips_scaling=philips_scaling)
        if (_int(ds, "NumberOfFrames") or 1) > 1 and not _is_mosaic(ds):
            raise UnsupportedError(
                f"multi-frame image ({_int(ds, 'NumberOfFrames')} frames) without per-frame "
                "functional groups: the position of frames 2..N is not defined; convert it to "
                "an enhanced or single-frame series",
                path=path,
            )
        if _is_mosaic(ds):
            # raises InputError naming the missing CSA NumberOfImagesInMosaic
            return list(mosaic.frames_from_mosaic(ds, path, base))
    except TriageError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as err:
        raise InputError(
            f"malformed header ({type(err).__name__}: {str(err)[:120]}); re-export the file",
            path=path,
        ) from err
    return [base]


#: acquisition parameters copied to SeriesInfo.acquisition under BIDS names
BIDS_KEYS = (
    "Manufacturer",
    "ManufacturerModelName",
    "MagneticFieldStrength",
    "SliceThickness",
    "SpacingBetweenSlices",
    "EchoTime",
    "RepetitionTime",
    "InversionTime",
    "FlipAngle",
    "KVP",
    "XRayTubeCurrent",
    "ConvolutionKernel",
    "GantryDetectorTilt",
    "ScanningSequence",
    "SequenceVariant",
    "MRAcquisitionType",
    "ImageType",
    "BodyPartExamined",
    "ProtocolName",
)


def acquisition_params(ds: Any) -> dict[str, Any]:
    """Technical acquisition parameters (no identifiers), BIDS-style keys and units.

    Times are converted from DICOM milliseconds to BIDS seconds.
    """
    out: dict[str, Any] = {}
    for key in BIDS_KEYS:
        if key not in ds:
            continue
        value = ds.get(key)
        if value is None or value == "":
            continue
        if key in ("EchoTime", "RepetitionTime", "InversionTime"):
            f = _float(ds, key)
            if f is not None:
                out[key] = round(f / 1000.0, 6)
            continue
        if type(value).__name__ == "MultiValue" or isinstance(value, (list, tuple)):
            out[key] = [str(v) for v in value]
        elif isinstance(value, (int, float)):
            out[key] = value
        else:
            try:
                out[key] = float(value) if type(value).__name__ in ("DSfloat", "IS") else str(value)
            except (TypeError, ValueError):
                out[key] = str(value)
    return out


@dataclass
class _Group:
    frames: list[Frame]
    header: dict[str, Any]
    files: list[str]


def _failed_file(path: str, root: Path, err: BaseException) -> SeriesRecord:
    """A failed row for a file whose header cannot be interpreted."""
    return SeriesRecord(
        input=_rel(path, root),
        files=[path],
        key=_key("bad", path),
        status=Status.FAILED,
        reason=f"malformed header ({type(err).__name__}: {str(err)[:120]}); re-export the file",
    )


def _instance_identity(ds: Any) -> tuple[Any, ...] | None:
    """What makes two files the same instance: a copy of a file is not a second slice."""
    sop = _text(ds, "SOPInstanceUID")
    if not sop:
        return None
    return (
        sop,
        _int(ds, "SeriesNumber"),
        _floats(ds, "ImagePositionPatient", 3),
        _int(ds, "InstanceNumber"),
        _int(ds, "NumberOfFrames"),
    )


#: per-process secret: patient keys compare within one process and reveal nothing outside it
_PATIENT_SALT = secrets.token_bytes(16)


def patient_key(patient_id: str, issuer: str = "") -> str:
    """A keyed hash of PatientID (and its issuer) to match studies of one patient.

    The key is made with a secret drawn when the process starts, so it cannot be turned
    back into the identifier by trying candidate IDs; it is never shown or stored.
    Empty when the PatientID is empty.
    """
    if not patient_id.strip():
        return ""
    digest = hmac.new(_PATIENT_SALT, f"{issuer}\x00{patient_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:24]


def _header_summary(ds: Any) -> dict[str, Any]:
    return {
        "series_uid": _text(ds, "SeriesInstanceUID"),
        "study_uid": _text(ds, "StudyInstanceUID"),
        "modality": _text(ds, "Modality").upper(),
        "description": _text(ds, "SeriesDescription"),
        "series_number": _int(ds, "SeriesNumber"),
        "manufacturer": _text(ds, "Manufacturer"),
        "gantry_tilt": _float(ds, "GantryDetectorTilt", 0.0) or 0.0,
        "bits_allocated": _int(ds, "BitsAllocated"),
        "bits_stored": _int(ds, "BitsStored"),
        "signed": _int(ds, "PixelRepresentation") == 1,
        "float_pixels": "FloatPixelData" in ds or "DoubleFloatPixelData" in ds,
        "acquisition": acquisition_params(ds),
        "patient_key": patient_key(_text(ds, "PatientID"), _text(ds, "IssuerOfPatientID")),
        "study_date": _text(ds, "StudyDate"),
    }


def _common_folder(files: list[str], root: Path) -> str:
    folder = os.path.commonpath([os.path.dirname(f) for f in files]) if files else str(root)
    base = root if root.is_dir() else root.parent
    try:
        rel = os.path.relpath(folder, base)
    except ValueError:
        rel = folder
    if len(files) == 1:
        return _rel(files[0], root)
    return "." if rel == "" else rel


def _rel(path: str, root: Path) -> str:
    base = root if root.is_dir() else root.parent
    try:
        return os.path.relpath(path, base)
    except ValueError:
        return path


def _key(*parts: Any) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]


def split_by_orientation(frames: list[Frame]) -> list[list[Frame]]:
    """Cluster frames whose orientation cosines agree within tolerance."""
    clusters: list[list[Frame]] = []
    for f in frames:
        for c in clusters:
            if same_orientation(c[0], f):
                c.append(f)
                break
        else:
            clusters.append([f])
    return clusters


def describe_split(stacks: list[list[Frame]]) -> str:
    """Say why one series became several stacks (what differs between them)."""
    firsts = [s[0] for s in stacks]
    what = []
    if any(not same_orientation(firsts[0], f) for f in firsts[1:]):
        what.append(f"{len(stacks)} slice orientations")
    if len({(f.rows, f.cols) for f in firsts}) > 1:
        what.append("different matrix sizes")
    if len({(round(f.row_spacing, 4), round(f.col_spacing, 4)) for f in firsts}) > 1:
        what.append("different pixel spacings")
    if len({f.meta.get("image_type") for f in firsts}) > 1:
        what.append("different image types")
    if len({f.meta.get("kernel") for f in firsts}) > 1:
        what.append("different reconstruction kernels")
    detail = ", ".join(what) or "different echoes, stacks or series numbers"
    return f"series mixes {len(stacks)} stacks ({detail})"


def geometry_status(geom: StackGeometry, strictness: Strictness) -> tuple[Status, str]:
    """Status and reason of a stack once its geometry is known."""
    if geom.spacing is Spacing.EVEN:
        return Status.OK, ""
    if strictness is Strictness.STRICT:
        return Status.FAILED, (
            f"{geom.spacing_detail}; refused in strict mode (use --uneven resample to "
            "resample onto even spacing, or re-export the complete series)"
        )
    return Status.OK, f"{geom.spacing_detail}; will be resampled to even spacing"


def scan_tree(
    root: Path,
    *,
    strictness: Strictness = Strictness.STRICT,
    philips_scaling: str = "display",
) -> ScanResult:
    """Find every series under ``root`` from headers; see :func:`imaging_triage.ingest.scan`."""
    root = Path(os.path.abspath(root))  # absolute paths: records travel to other processes
    result = ScanResult(root=str(root))
    groups: dict[tuple[Any, ...], _Group] = {}
    dropped: dict[tuple[str, str, str], _Group] = {}
    dropped_status: dict[tuple[str, str, str], Drop] = {}
    seen_instances: set[tuple[Any, ...]] = set()
    for found in walk(root):
        if found.kind is FileKind.OTHER:
            result.skipped_files += 1
            continue
        if found.kind is FileKind.NIFTI:
            result.series.append(_nifti_record(found.path, root))
            continue
        try:
            ds = read_header(found.path)
        except NotDicomError:
            result.skipped_files += 1
            continue
        except InputError as err:
            result.unreadable.append((_rel(found.path, root), err.reason))
            result.series.append(
                SeriesRecord(
                    input=_rel(found.path, root),
                    files=[found.path],
                    key=_key("unreadable", found.path),
                    status=Status.FAILED,
                    reason=err.reason,
                )
            )
            continue
        try:
            if is_dicomdir(ds):
                result.dicomdir_files += 1
                continue
            ident = _instance_identity(ds)
            drop = classify_instance(ds)
            header = _header_summary(ds)
        except Exception as err:  # lazily parsed damaged elements raise many types
            result.series.append(_failed_file(found.path, root, err))
            continue
        if ident is not None:
            if ident in seen_instances:
                result.duplicate_files += 1
                continue
            seen_instances.add(ident)
        if drop is not None:
            dkey = (header["series_uid"], drop.reason, drop.status.value)
            g = dropped.setdefault(dkey, _Group([], header, []))
            dropped_status[dkey] = drop
            g.files.append(found.path)
            continue
        try:
            frames = frames_from_dataset(ds, found.path, philips_scaling=philips_scaling)
        except (TriageError, Exception) as err:
            if not isinstance(err, TriageError):
                err = InputError(
                    f"malformed header ({type(err).__name__}: {str(err)[:120]}); re-export it",
                    path=found.path,
                )
            result.series.append(
                SeriesRecord(
                    input=_rel(found.path, root),
                    files=[found.path],
                    key=_key("bad", found.path),
                    series_uid=header["series_uid"],
                    study_uid=header["study_uid"],
                    modality=header["modality"],
                    description=header["description"],
                    series_number=header["series_number"],
                    status=Status.FAILED,
                    reason=err.reason,
                )
            )
            continue
        for f in frames:
            g = groups.setdefault(f.stack_key, _Group([], header, []))
            g.frames.append(f)
            if not g.files or g.files[-1] != found.path:
                g.files.append(found.path)

    for dkey, g in dropped.items():
        drop = dropped_status[dkey]
        h = g.header
        result.series.append(
            SeriesRecord(
                input=_common_folder(g.files, root),
                files=sorted(set(g.files)),
                key=_key("drop", *dkey),
                series_uid=h["series_uid"],
                study_uid=h["study_uid"],
                modality=h["modality"],
                description=h["description"],
                series_number=h["series_number"],
                status=drop.status,
                reason=drop.reason,
                n_frames=len(g.files),
            )
        )
    damaged: dict[str, list[str]] = defaultdict(list)
    for dkey, g in dropped.items():
        if dropped_status[dkey].status is Status.FAILED and dkey[0]:
            damaged[dkey[0]].extend(_rel(f, root) for f in g.files)
    orphans: dict[str, list[str]] = defaultdict(list)  # folder -> unreadable, no series
    for r in result.series:
        if r.status is Status.FAILED and r.series_uid:
            damaged[r.series_uid].extend(_rel(name, root) for name in r.files)
        elif r.status is Status.FAILED:
            for name in r.files:
                orphans[os.path.dirname(name)].append(_rel(name, root))
    stacks_of: dict[str, list[list[Frame]]] = defaultdict(list)
    for g in groups.values():
        stacks_of[g.header["series_uid"]].extend(split_by_orientation(g.frames))
    for skey, g in groups.items():
        clusters = split_by_orientation(g.frames)
        for n, frames in enumerate(clusters):
            record = _stack_record(frames, g.header, root, skey, n, strictness, philips_scaling)
            siblings = stacks_of[record.series_uid]
            if len(siblings) > 1 and record.status is not Status.OK:
                record.reason = f"{describe_split(siblings)}; this stack: {record.reason}"
            if (
                len(siblings) > 1
                and len(frames) == 1
                and any(len(c) > 1 for c in siblings)
                and record.status is Status.OK
            ):
                record.status = Status.DROPPED
                record.reason = (
                    f"{describe_split(siblings)}; this stack is a single image that differs "
                    "from the rest of the series, not a volume"
                )
            elif len(siblings) > 1 and record.status is Status.OK:
                record.reason = f"note: {describe_split(siblings)}; this stack converted alone"
            bad_files = damaged.get(record.series_uid)
            near = [f for d in {os.path.dirname(f) for f in record.files} for f in orphans[d]]
            if bad_files and record.status is Status.OK:
                record.status = Status.FAILED
                record.reason = (
                    f"{len(bad_files)} file(s) of this series cannot be read (first: "
                    f"{bad_files[0]}); a volume without them could silently lack slices"
                )
            elif near and record.status is Status.OK:
                record.status = Status.FAILED
                record.reason = (
                    f"{len(near)} unreadable DICOM file(s) in the series' folder (first: "
                    f"{near[0]}) may belong to it; a volume without them could silently lack "
                    "slices: repair or remove them"
                )
            result.series.append(record)
    result.series.sort(key=lambda r: (r.study_uid, r.series_number or 0, r.input, r.key))
    _disambiguate(result.series)
    return result


def _stack_record(
    frames: list[Frame],
    header: dict[str, Any],
    root: Path,
    skey: tuple[Any, ...],
    n: int,
    strictness: Strictness,
    philips_scaling: str = "display",
) -> SeriesRecord:
    files = sorted({f.path for f in frames})
    record = SeriesRecord(
        input=_common_folder(files, root),
        files=files,
        key=_key("stack", skey, n),
        series_uid=header["series_uid"],
        study_uid=header["study_uid"],
        modality=header["modality"],
        description=header["description"],
        series_number=header["series_number"],
        n_frames=len(frames),
        patient_key=header.get("patient_key", ""),
        study_date=header.get("study_date", ""),
        extra={
            "frames": frames,
            "header": header,
            "strictness": strictness.value,
            "philips_scaling": philips_scaling,
        },
    )
    try:
        geom = analyse(frames)
    except TriageError as err:
        record.status = Status.DROPPED if err.code == "not-a-volume" else Status.FAILED
        record.reason = err.reason
        return record
    except (ValueError, FloatingPointError, OverflowError, ZeroDivisionError) as err:
        record.status = Status.FAILED
        record.reason = f"slice geometry cannot be computed ({type(err).__name__}: {err})"
        return record
    first = frames[geom.order[0][0]]
    record.status, record.reason = geometry_status(geom, strictness)
    _complete_acquisition(record, first)
    shape: tuple[int, ...] = (first.cols, first.rows, geom.n_slices)
    if geom.n_volumes > 1:
        shape = (*shape, geom.n_volumes)
    record.shape = shape
    record.spacing_mm = (
        round(first.col_spacing, 4),
        round(first.row_spacing, 4),
        round(geom.step, 4),
    )
    record.tilt_deg = round(geom.tilt_deg if geom.tilted else 0.0, 2)
    return record


def _complete_acquisition(record: SeriesRecord, first: Frame) -> None:
    """Fill acquisition parameters that enhanced objects keep in functional groups."""
    header = dict(record.extra["header"])
    acq = dict(header["acquisition"])
    for key in ("EchoTime", "RepetitionTime", "InversionTime"):
        if key not in acq and first.meta.get(key) is not None:
            acq[key] = round(float(first.meta[key]) / 1000.0, 6)
    for key in ("FlipAngle", "PhilipsScaling", "SliceTiming"):
        if key not in acq and key in first.meta:
            acq[key] = first.meta[key]
    if "SliceThickness" not in acq and first.slice_thickness:
        acq["SliceThickness"] = first.slice_thickness
    header["acquisition"] = acq
    record.extra["header"] = header


def _disambiguate(records: list[SeriesRecord]) -> None:
    seen: dict[str, int] = defaultdict(int)
    for r in records:
        seen[r.key] += 1
        if seen[r.key] > 1:
            r.key = _key(r.key, seen[r.key])


def _nifti_record(path: str, root: Path) -> SeriesRecord:
    record = SeriesRecord(
        input=_rel(path, root),
        files=[path],
        kind="nifti",
        key=_key("nifti", _rel(path, root)),
        description=Path(path).name.split(".")[0],
        study_uid=os.path.dirname(_rel(path, root)),
    )
    try:
        import nibabel as nib

        img: Any = nib.load(path)
        record.shape = tuple(int(s) for s in img.shape)
        record.spacing_mm = tuple(round(float(z), 4) for z in img.header.get_zooms()[:3])
        record.n_frames = int(img.shape[2]) if len(img.shape) > 2 else 1
    except Exception as err:  # nibabel raises many types on damaged files
        record.status = Status.FAILED
        record.reason = f"cannot read as NIfTI ({type(err).__name__}); check the file is complete"
    return record
