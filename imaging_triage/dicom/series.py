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
import os
import secrets
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imaging_triage.dicom import diffusion, mosaic, multiframe, philips
from imaging_triage.dicom import header as hdr
from imaging_triage.dicom.discover import FileKind, is_dicomdir, read_header, walk
from imaging_triage.dicom.frame import Frame
from imaging_triage.dicom.geometry import (
    Spacing,
    StackGeometry,
    analyse,
    analyse_segments,
    same_orientation,
)
from imaging_triage.dicom.sop import non_image_name
from imaging_triage.dicom.stacks import (
    Stack,
    build_stacks,
    join_segments,
    stack_label,
)
from imaging_triage.dicom.stacks import split_by_orientation as split_by_orientation
from imaging_triage.errors import (
    InputError,
    NotDicomError,
    ResourceLimitError,
    TriageError,
    UnsupportedError,
)
from imaging_triage.records import (
    ScanResult,
    SeriesRecord,
    SourceKind,
    Status,
    Strictness,
    VolumeRole,
)

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


def image_type(ds: Any) -> tuple[str, ...]:
    """ImageType values, upper case."""
    return hdr.upper_values(ds, "ImageType")


def classify_instance(ds: Any) -> Drop | None:
    """Return why an instance cannot be part of a volume, or ``None`` if it can.

    Parameters
    ----------
    ds : pydicom.Dataset
        Header of one instance.
    """
    meta = getattr(ds, "file_meta", None)
    sop = hdr.text(ds, "SOPClassUID") or (
        hdr.text(meta, "MediaStorageSOPClassUID") if meta is not None else ""
    )
    if sop.startswith(SECONDARY_CAPTURE_PREFIX):
        return Drop(Status.DROPPED, "secondary capture (screen capture or report), not a volume")
    not_image = non_image_name(sop)
    if not_image is not None:
        return Drop(Status.DROPPED, f"not an image ({not_image})")
    if "Rows" not in ds or "Columns" not in ds:
        name = _sop_name(sop)
        modality = hdr.text(ds, "Modality").upper()
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
    modality = hdr.text(ds, "Modality").upper()
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
    iop = hdr.numbers(ds, "ImageOrientationPatient", 6)
    ipp = hdr.numbers(ds, "ImagePositionPatient", 3)
    ps = hdr.numbers(ds, "PixelSpacing", 2)
    if iop is None or ipp is None:
        raise InputError(
            "ImagePositionPatient/ImageOrientationPatient missing or malformed; "
            "re-export the series with its geometry",
            path=path,
        )
    if ps is None:
        raise InputError("PixelSpacing missing or malformed; cannot measure the image", path=path)
    slope = hdr.number(ds, "RescaleSlope", 1.0) or 1.0
    intercept = hdr.number(ds, "RescaleIntercept", 0.0) or 0.0
    raw = (hdr.text(ds, "RescaleSlope"), hdr.text(ds, "RescaleIntercept"))
    if any(v and hdr.to_float(v) is None for v in raw):
        raise InputError(
            f"RescaleSlope/RescaleIntercept not finite numbers ({raw[0]!r}, {raw[1]!r}); the "
            "header is damaged",
            path=path,
        )
    problem = ""
    manufacturer = hdr.text(ds, "Manufacturer").upper()
    if "PHILIPS" in manufacturer and hdr.text(ds, "Modality").upper() == "MR":
        try:
            slope, intercept = philips.value_transform(ds, philips_scaling)
        except philips.PhilipsScalingError as err:
            problem = err.reason  # the stack fails with it (one row, not one per file)
    if "ModalityLUTSequence" in ds:
        raise UnsupportedError(
            "Modality LUT Sequence (PS3.3 C.11.1) instead of RescaleSlope/Intercept is not "
            "supported; the stored values are not the modality values",
            path=path,
        )
    rows = hdr.integer(ds, "Rows") or 0
    cols = hdr.integer(ds, "Columns") or 0
    echo = hdr.number(ds, "EchoTime")
    b_value = hdr.number(ds, "DiffusionBValue")
    gradient = hdr.numbers(ds, "DiffusionGradientOrientation", 3)
    directionality = hdr.text(ds, "DiffusionDirectionality").upper()
    kind = diffusion.role(b_value, gradient, directionality, image_type(ds))
    stack_key = (
        hdr.text(ds, "SeriesInstanceUID"),
        hdr.integer(ds, "SeriesNumber"),
        hdr.text(ds, "ConvolutionKernel"),
        image_type(ds),
        hdr.integer(ds, "EchoNumbers"),
        rows,
        cols,
        round(ps[0], 4),
        round(ps[1], 4),
        hdr.integer(ds, "SamplesPerPixel") or 1,
        kind.value,
    )
    order_key = (
        hdr.integer(ds, "TemporalPositionIdentifier") or 0,
        hdr.integer(ds, "AcquisitionNumber") or 0,
        hdr.text(ds, "AcquisitionTime") or hdr.text(ds, "ContentTime"),
        hdr.number(ds, "TriggerTime", 0.0) or 0.0,
        hdr.integer(ds, "InstanceNumber") or 0,
    )
    meta: dict[str, Any] = {
        "sop_uid": hdr.text(ds, "SOPInstanceUID"),
        "image_type": image_type(ds),
        "samples": hdr.integer(ds, "SamplesPerPixel") or 1,
        "bits_stored": hdr.integer(ds, "BitsStored"),
        "signed": hdr.integer(ds, "PixelRepresentation") == 1,
        "has_rescale": "RescaleSlope" in ds and "RescaleIntercept" in ds,
        "kernel": hdr.text(ds, "ConvolutionKernel"),
    }
    if problem:
        meta["problem"] = problem
    meta["role"] = kind
    if b_value is not None:
        meta["DiffusionBValue"] = b_value
    if gradient is not None:
        meta["DiffusionGradientOrientation"] = list(gradient)
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
        instance_number=hdr.integer(ds, "InstanceNumber"),
        slice_thickness=hdr.number(ds, "SliceThickness"),
        meta=meta,
    )


def frames_from_dataset(ds: Any, path: str, *, philips_scaling: str = "display") -> list[Frame]:
    """Every frame an instance contributes (1 for classic, N for enhanced or mosaic)."""
    try:
        if multiframe.is_enhanced(ds):
            return list(multiframe.frames_from_enhanced(ds, path, philips_scaling=philips_scaling))
        base = frame_from_classic(ds, path, philips_scaling=philips_scaling)
        if (hdr.integer(ds, "NumberOfFrames") or 1) > 1 and not _is_mosaic(ds):
            raise UnsupportedError(
                f"multi-frame image ({hdr.integer(ds, 'NumberOfFrames')} frames) without per-frame "
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
            f = hdr.number(ds, key)
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
    sop = hdr.text(ds, "SOPInstanceUID")
    if not sop:
        return None
    return (
        sop,
        hdr.integer(ds, "SeriesNumber"),
        hdr.numbers(ds, "ImagePositionPatient", 3),
        hdr.integer(ds, "InstanceNumber"),
        hdr.integer(ds, "NumberOfFrames"),
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
        "series_uid": hdr.text(ds, "SeriesInstanceUID"),
        "study_uid": hdr.text(ds, "StudyInstanceUID"),
        "modality": hdr.text(ds, "Modality").upper(),
        "description": hdr.text(ds, "SeriesDescription"),
        "series_number": hdr.integer(ds, "SeriesNumber"),
        "manufacturer": hdr.text(ds, "Manufacturer"),
        "gantry_tilt": hdr.number(ds, "GantryDetectorTilt", 0.0) or 0.0,
        "bits_allocated": hdr.integer(ds, "BitsAllocated"),
        "bits_stored": hdr.integer(ds, "BitsStored"),
        "signed": hdr.integer(ds, "PixelRepresentation") == 1,
        "float_pixels": "FloatPixelData" in ds or "DoubleFloatPixelData" in ds,
        "acquisition": acquisition_params(ds),
        "patient_key": patient_key(hdr.text(ds, "PatientID"), hdr.text(ds, "IssuerOfPatientID")),
        "study_date": hdr.text(ds, "StudyDate"),
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
    roles = {getattr(f.meta.get("role"), "value", "image") for f in firsts}
    if len(roles) > 1:
        what.append("image kinds " + " and ".join(sorted(roles)))
    detail = ", ".join(what) or "different echoes, stacks or series numbers"
    return f"series mixes {len(stacks)} stacks ({detail})"


def geometry_status(geom: StackGeometry, strictness: Strictness) -> tuple[Status, str]:
    """Status and reason of a stack once its geometry is known."""
    if geom.spacing is Spacing.EVEN:
        return Status.OK, ""
    if geom.spacing is Spacing.SEGMENTED:
        return Status.OK, f"note: {geom.spacing_detail}"
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
    """Find every series under ``root`` from headers; see :func:`imaging_triage.ingest.scan`.

    Four phases: read every header into frames (or a dropped or failed file), turn the
    dropped groups into records, group the frames into stacks (joining segments of one
    acquisition), and decide each stack's status knowing which files could not be read.
    """
    root = Path(os.path.abspath(root))  # absolute paths: records travel to other processes
    result = ScanResult(root=str(root))
    found = _read_headers(root, result, philips_scaling)
    result.series.extend(_dropped_records(found, root))
    damaged, orphans = _unreadable_index(result.series, root)
    stacks = join_segments(build_stacks({k: (g.frames, g.header) for k, g in found.groups.items()}))
    result.series.extend(_stack_records(stacks, root, strictness, philips_scaling))
    for record in result.series:
        _refuse_if_damaged(record, damaged, orphans)
    result.series.sort(key=lambda r: (r.study_uid, r.series_number or 0, r.input, r.key))
    _disambiguate(result.series)
    for r in result.series:  # no paths or descriptions: they may name the patient
        logger.debug(
            "series %s #%s %s: %s %s (%d frames, %d stack(s))",
            r.key[:8],
            r.series_number,
            r.modality or "-",
            r.status.value,
            r.role.value,
            r.n_frames,
            r.joined_stacks,
        )
    return result


@dataclass
class _Found:
    """What the header pass found: frames by stack key, dropped files by reason."""

    groups: dict[tuple[Any, ...], _Group]
    dropped: dict[tuple[str, str, str], _Group]
    drops: dict[tuple[str, str, str], Drop]


def _read_headers(root: Path, result: ScanResult, philips_scaling: str) -> _Found:
    """Phase 1: read every file's header; count skipped files, record failed ones."""
    found = _Found({}, {}, {})
    seen_instances: set[tuple[Any, ...]] = set()
    for item in walk(root):
        if item.kind is FileKind.OTHER:
            result.skipped_files += 1
            continue
        if item.kind is FileKind.NIFTI:
            result.series.append(_nifti_record(item.path, root))
            continue
        try:
            ds = read_header(item.path)
        except NotDicomError:
            result.skipped_files += 1
            continue
        except (InputError, ResourceLimitError) as err:
            result.unreadable.append((_rel(item.path, root), err.reason))
            result.series.append(
                SeriesRecord(
                    input=_rel(item.path, root),
                    files=[item.path],
                    key=_key("unreadable", item.path),
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
            result.series.append(_failed_file(item.path, root, err))
            continue
        if ident is not None:
            if ident in seen_instances:
                result.duplicate_files += 1
                continue
            seen_instances.add(ident)
        if drop is not None:
            dkey = (header["series_uid"], drop.reason, drop.status.value)
            found.dropped.setdefault(dkey, _Group([], header, [])).files.append(item.path)
            found.drops[dkey] = drop
            continue
        try:
            frames = frames_from_dataset(ds, item.path, philips_scaling=philips_scaling)
        except Exception as err:  # TriageError, or anything a damaged header raises
            result.series.append(_failed_frames(item.path, root, header, err))
            continue
        for f in frames:
            g = found.groups.setdefault(f.stack_key, _Group([], header, []))
            g.frames.append(f)
            if not g.files or g.files[-1] != item.path:
                g.files.append(item.path)
    return found


def _failed_frames(
    path: str, root: Path, header: dict[str, Any], err: BaseException
) -> SeriesRecord:
    """A failed row for a file whose frames cannot be built."""
    if not isinstance(err, TriageError):
        err = InputError(
            f"malformed header ({type(err).__name__}: {str(err)[:120]}); re-export it",
            path=path,
        )
    return SeriesRecord(
        input=_rel(path, root),
        files=[path],
        key=_key("bad", path),
        **_series_fields(header),
        status=Status.FAILED,
        reason=err.reason,
    )


def _series_fields(header: dict[str, Any]) -> dict[str, Any]:
    """The series identity fields of a record, from a header summary."""
    return {
        key: header[key]
        for key in ("series_uid", "study_uid", "modality", "description", "series_number")
    }


def _dropped_records(found: _Found, root: Path) -> list[SeriesRecord]:
    """Phase 2: one record per series and reason of the files that are not volumes."""
    out = []
    for dkey, g in found.dropped.items():
        drop = found.drops[dkey]
        out.append(
            SeriesRecord(
                input=_common_folder(g.files, root),
                files=sorted(set(g.files)),
                key=_key("drop", *dkey),
                **_series_fields(g.header),
                status=drop.status,
                reason=drop.reason,
                n_frames=len(g.files),
            )
        )
    return out


def _unreadable_index(
    records: list[SeriesRecord], root: Path
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Failed files by series UID, and failed files without one by folder."""
    damaged: dict[str, list[str]] = defaultdict(list)
    orphans: dict[str, list[str]] = defaultdict(list)
    for r in records:
        if r.status is Status.FAILED and r.series_uid:
            damaged[r.series_uid].extend(_rel(name, root) for name in r.files)
        elif r.status is Status.FAILED:
            for name in r.files:
                orphans[os.path.dirname(name)].append(_rel(name, root))
    return damaged, orphans


def _stack_records(
    stacks: list[Stack], root: Path, strictness: Strictness, philips_scaling: str
) -> list[SeriesRecord]:
    """Phase 3: one record per stack, labelled and explained where a series split."""
    stacks_of: dict[str, list[Stack]] = defaultdict(list)
    for stack in stacks:
        stacks_of[stack.header["series_uid"]].append(stack)
    out = []
    for stack in stacks:
        record = _stack_record(stack, root, strictness, philips_scaling)
        siblings = stacks_of[record.series_uid]
        if len(siblings) > 1:
            _explain_split(record, stack, siblings)
        out.append(record)
    return out


def _explain_split(record: SeriesRecord, stack: Stack, siblings: list[Stack]) -> None:
    """Label a stack of a split series, and drop it when it is a lone odd image."""
    record.stack_label = stack_label(stack, siblings)
    split = describe_split([s.frames for s in siblings])
    if record.status is not Status.OK:
        record.reason = f"{split}; this stack: {record.reason}"
    elif len(stack.frames) == 1 and any(len(c.frames) > 1 for c in siblings):
        record.status = Status.DROPPED
        record.reason = (
            f"{split}; this stack is a single image that differs "
            "from the rest of the series, not a volume"
        )
    else:
        record.reason = f"note: {split}; this stack ({record.stack_label}) converted alone"


def _refuse_if_damaged(
    record: SeriesRecord, damaged: dict[str, list[str]], orphans: dict[str, list[str]]
) -> None:
    """Phase 4: a volume beside unreadable files of its series could silently lack slices."""
    if record.status is not Status.OK or record.kind is not SourceKind.DICOM:
        return
    bad_files = damaged.get(record.series_uid)
    near = [f for d in {os.path.dirname(f) for f in record.files} for f in orphans[d]]
    if bad_files:
        record.status = Status.FAILED
        record.reason = (
            f"{len(bad_files)} file(s) of this series cannot be read (first: "
            f"{bad_files[0]}); a volume without them could silently lack slices"
        )
    elif near:
        record.status = Status.FAILED
        record.reason = (
            f"{len(near)} unreadable DICOM file(s) in the series' folder (first: "
            f"{near[0]}) may belong to it; a volume without them could silently lack "
            "slices: repair or remove them"
        )


def _stack_record(
    stack: Stack,
    root: Path,
    strictness: Strictness,
    philips_scaling: str = "display",
) -> SeriesRecord:
    frames, header = stack.frames, stack.header
    files = sorted({f.path for f in frames})
    record = SeriesRecord(
        input=_common_folder(files, root),
        files=files,
        key=stack.key,
        **_series_fields(header),
        n_frames=len(frames),
        patient_key=header.get("patient_key", ""),
        study_date=header.get("study_date", ""),
        joined_stacks=stack.joined,
        frames=frames,
        header=header,
        strictness=strictness,
        philips_scaling=philips_scaling,
    )
    try:
        geom = analyse_segments(frames) if stack.joined > 1 else analyse(frames)
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
    record.role = stack_role(frames)
    problem = next((f.meta["problem"] for f in frames if f.meta.get("problem")), "")
    if problem:
        record.status, record.reason = Status.FAILED, problem
    _complete_acquisition(record, first)
    n_slices = geom.n_slices
    if geom.spacing is Spacing.SEGMENTED:
        n_slices = int(np.floor(float(geom.offsets[-1]) / geom.step + 1e-6)) + 1
    shape: tuple[int, ...] = (first.cols, first.rows, n_slices)
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


def stack_role(frames: list[Frame]) -> VolumeRole:
    """What a stack's images are: a stack of "diffusion" frames that are all b = 0 (Philips
    writes DiffusionBValue 0 on anatomical images) is an ordinary image."""
    role = frames[0].meta.get("role", VolumeRole.IMAGE)
    if role is VolumeRole.DIFFUSION and not any(
        (f.meta.get("DiffusionBValue") or 0) > 0 for f in frames
    ):
        return VolumeRole.IMAGE
    return VolumeRole(role)


def _complete_acquisition(record: SeriesRecord, first: Frame) -> None:
    """Fill acquisition parameters that enhanced objects keep in functional groups."""
    header = dict(record.header)
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
    record.header = header


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
        kind=SourceKind.NIFTI,
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
