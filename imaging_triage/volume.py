"""Volume: a voxel array with its RAS+ affine and the information about its series.

Conventions, stated once for the whole package:

* ``affine`` maps voxel indices ``(i, j, k, 1)`` to world millimetres in **RAS+**, exactly
  as a NIfTI qform/sform does: +x points to the patient's right, +y anterior, +z superior.
  A lesion in the patient's left hemisphere therefore has x < 0.
* DICOM patient coordinates are **LPS+**; negating the first two rows of an LPS affine
  gives the RAS affine (:data:`LPS_TO_RAS`).
* ``data`` is indexed ``(i, j, k)`` (or ``(i, j, k, t)`` for series with repeated
  positions). For a DICOM stack, ``i`` runs along a row (columns of the image), ``j`` down
  the columns (rows of the image), ``k`` along the slice normal.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import sys
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from imaging_triage.errors import GeometryError, InputError, ResourceLimitError, UnsupportedError
from imaging_triage.limits import DEFAULT_MAX_BYTES, check_declared

logger = logging.getLogger(__name__)

#: Multiply an LPS affine on the left by this to get the RAS affine (and vice versa).
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass
class SeriesInfo:
    """What is known about the series a volume came from.

    Holds no patient identifiers: only technical description of the acquisition,
    the UIDs needed to group series, and the reasons for any correction made.
    """

    modality: str = ""
    series_uid: str = ""
    study_uid: str = ""
    series_number: int | None = None
    series_description: str = ""
    manufacturer: str = ""
    #: acquisition parameters under BIDS names (``SliceThickness``, ``EchoTime``, ...)
    acquisition: dict[str, Any] = field(default_factory=dict)
    #: human-readable corrections applied, e.g. ``"gantry tilt 18.5 deg corrected"``
    corrections: list[str] = field(default_factory=list)
    #: non-fatal observations (e.g. ``"2 duplicate slices removed"``)
    warnings: list[str] = field(default_factory=list)
    #: whether ``data`` holds Hounsfield units (CT after rescale)
    hounsfield: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return asdict(self)


@dataclass
class Volume:
    """A 3-D (or 4-D) image with a voxel-to-RAS affine.

    Parameters
    ----------
    data : numpy.ndarray
        Voxel values indexed ``(i, j, k[, t])``.
    affine : numpy.ndarray
        4x4 voxel-to-RAS+ mm matrix.
    info : SeriesInfo
        Series description and provenance.
    """

    data: npt.NDArray[Any]
    affine: npt.NDArray[np.float64]
    info: SeriesInfo = field(default_factory=SeriesInfo)

    def __post_init__(self) -> None:
        self.affine = np.asarray(self.affine, dtype=np.float64)
        if self.affine.shape != (4, 4):
            raise ValueError(f"affine must be 4x4, got {self.affine.shape}")
        if self.data.ndim not in (3, 4):
            raise ValueError(f"data must be 3-D or 4-D, got {self.data.ndim}-D")

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the voxel array."""
        return tuple(int(s) for s in self.data.shape)

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along i, j, k (column norms of the affine)."""
        norms = np.linalg.norm(self.affine[:3, :3], axis=0)
        return (float(norms[0]), float(norms[1]), float(norms[2]))

    def world(self, ijk: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Map voxel indices (..., 3) to RAS+ mm (..., 3)."""
        pts = np.asarray(ijk, dtype=np.float64)
        return pts @ self.affine[:3, :3].T + self.affine[:3, 3]

    def index(self, xyz: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Map RAS+ mm (..., 3) to continuous voxel indices (..., 3)."""
        inv = np.linalg.inv(self.affine)
        pts = np.asarray(xyz, dtype=np.float64)
        return pts @ inv[:3, :3].T + inv[:3, 3]

    def orientation(self) -> str:
        """Axis codes of the voxel axes, e.g. ``"LPS"`` or ``"RAS"`` (nibabel's aff2axcodes)."""
        import nibabel as nib

        return "".join(str(c) for c in nib.aff2axcodes(self.affine))


def smallest_exact_dtype(data: npt.NDArray[Any]) -> np.dtype[Any]:
    """Return the smallest integer dtype that holds ``data`` exactly, or float32.

    Integer-valued floating data (CT in HU, rescaled MR) are stored as integers when no
    value is lost; otherwise float32 (or float64 if float32 would lose precision badly).
    """
    arr = np.asarray(data)
    if arr.dtype == np.bool_:
        return np.dtype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        if arr.size == 0 or not np.all(np.isfinite(arr)):
            return np.dtype(np.float32)
        if not np.array_equal(arr, np.round(arr)):
            return np.dtype(np.float32)
    if arr.size == 0:
        return np.dtype(np.int16)
    lo, hi = float(arr.min()), float(arr.max())
    for dt in (np.uint8, np.int16, np.uint16, np.int32):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return np.dtype(dt)
    return np.dtype(np.float32)


def _atomic_target(path: Path) -> tuple[int, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes)
    return tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)


#: names of our temporary files (see :func:`_atomic_target`): ``.NAME.RANDOM.tmpSUFFIXES``
_TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)*$")


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files that killed runs left under ``folder``; return them.

    Only files named as :func:`atomic_write_bytes` names its temporaries
    (``.NAME.RANDOM.tmp.nii.gz`` and the like) are removed, and only inside ``folder``;
    call it at the start of a run into ``folder`` (two runs must not write into the same
    folder at once: the second would also remove the first's temporaries).
    """
    removed = []
    for dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            if _TEMPORARY.match(name):
                path = Path(dirpath) / name
                try:
                    path.unlink()
                except FileNotFoundError:
                    continue
                removed.append(path)
    if removed:
        logger.info("removed %d temporary file(s) left by an earlier run", len(removed))
    return removed


def atomic_write_bytes(path: str | os.PathLike[str], payload: bytes) -> None:
    """Write ``payload`` to ``path`` through a temporary file and ``os.replace``.

    A reader (or a killed writer) never sees a half-written file under the final name.
    """
    target = Path(path)
    fd, tmp = _atomic_target(target)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically (see :func:`atomic_write_bytes`)."""
    text = json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def to_nifti(volume: Volume, dtype: npt.DTypeLike | None = None) -> Any:
    """Return a ``nibabel.Nifti1Image`` with qform and sform both set (code 1, scanner).

    Parameters
    ----------
    volume : Volume
        The volume to convert.
    dtype : dtype, optional
        On-disk datatype. Default: :func:`smallest_exact_dtype` of the data.
    """
    import nibabel as nib

    out_dtype = np.dtype(dtype) if dtype is not None else smallest_exact_dtype(volume.data)
    data = np.asarray(volume.data)
    if data.dtype != out_dtype:
        if np.issubdtype(out_dtype, np.integer):
            data = np.round(data)
        data = data.astype(out_dtype)
    img = nib.Nifti1Image(data, volume.affine)
    img.set_qform(volume.affine, code=1)
    img.set_sform(volume.affine, code=1)
    img.header.set_xyzt_units("mm", "sec")
    img.header.set_data_dtype(out_dtype)
    return img


def save_nifti(
    volume: Volume, path: str | os.PathLike[str], dtype: npt.DTypeLike | None = None
) -> Path:
    """Write ``volume`` to ``path`` (``.nii`` or ``.nii.gz``) atomically.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    target = Path(path)
    img = to_nifti(volume, dtype)
    fd, tmp = _atomic_target(target)
    os.close(fd)
    try:
        if target.name.lower().endswith(".nii.gz"):
            _write_nifti_gz(img, Path(tmp))
        else:
            img.to_filename(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


#: bytes of voxel data compressed per gzip member
_GZ_CHUNK = 8 * 1024 * 1024
#: zlib level: 1 is several times faster than 6 for under 3 % larger CT files
GZIP_LEVEL = 1


def _gzip_member(payload: bytes) -> bytes:
    # wbits 31: a complete gzip member, header mtime 0 (deterministic output)
    comp = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    return comp.compress(payload) + comp.flush()


def _voxel_chunks(data: npt.NDArray[Any]) -> Iterator[bytes]:
    """The voxel bytes in NIfTI (Fortran) order, in slabs of about ``_GZ_CHUNK`` bytes."""
    vols = [data] if data.ndim == 3 else [data[..., t] for t in range(data.shape[3])]
    for vol in vols:
        per_slice = max(1, vol.shape[0] * vol.shape[1] * vol.dtype.itemsize)
        step = max(1, _GZ_CHUNK // per_slice)
        for k in range(0, vol.shape[2], step):
            yield np.asarray(vol[:, :, k : k + step]).tobytes(order="F")


def _write_nifti_gz(img: Any, path: Path) -> None:
    """Write a NIfTI-1 image as a multi-member gzip, members compressed in threads.

    Concatenated gzip members are one valid gzip stream (RFC 1952), which every
    reader (nibabel, dcm2niix, ITK, FSL) accepts; compressing slabs in parallel makes
    writing several times faster than a single stream, with bounded extra memory.
    """
    from concurrent.futures import ThreadPoolExecutor

    header = img.header.copy()
    header["vox_offset"] = 352
    data = np.asanyarray(img.dataobj)
    dtype = header.get_data_dtype()
    if data.dtype != dtype:
        data = data.astype(dtype)
    if dtype.byteorder not in ("=", "|", "<" if sys.byteorder == "little" else ">"):
        data = data.astype(dtype.newbyteorder("="))
    head = header.binaryblock + b"\x00" * 4  # no extensions
    workers = min(4, os.cpu_count() or 1)
    with open(path, "wb") as fh, ThreadPoolExecutor(max_workers=workers) as pool:
        fh.write(_gzip_member(head))
        pending: list[Any] = []
        for chunk in _voxel_chunks(data):
            pending.append(pool.submit(_gzip_member, chunk))
            if len(pending) > 2 * workers:  # bounded memory: write in order as we go
                fh.write(pending.pop(0).result())
        for fut in pending:
            fh.write(fut.result())
        fh.flush()
        os.fsync(fh.fileno())


def check_nifti_size(img: Any, path: str | os.PathLike[str], max_bytes: int) -> int:
    """Refuse a NIfTI image before reading its data when its header declares more than
    ``max_bytes`` (after scaling) or, uncompressed, more than the file holds.

    Returns
    -------
    int
        The bytes the data will take in memory.

    Raises
    ------
    ResourceLimitError
        The declared data (voxels x bytes per voxel) exceed ``max_bytes``.
    InputError
        An uncompressed file shorter than its header's offset plus data.
    """
    header = img.header
    shape = tuple(int(n) for n in header.get_data_shape())
    if any(n < 0 for n in shape):
        raise InputError(f"NIfTI header declares a negative dimension {shape}", path=path)
    itemsize = int(header.get_data_dtype().itemsize)
    voxels = math.prod(shape)
    slope, _inter = header.get_slope_inter()
    scaled = slope is not None and slope not in (0.0, 1.0)
    in_memory = voxels * max(itemsize, 8 if scaled else itemsize)
    dims = "x".join(str(n) for n in shape)
    check_declared(in_memory, f"NIfTI header ({dims} voxels)", os.fspath(path), max_bytes)
    name = os.fspath(path).lower()
    if not name.endswith(".gz"):
        needed = int(header.get_data_offset()) + voxels * itemsize
        present = os.stat(path).st_size
        if present < needed:
            raise InputError(
                f"NIfTI file holds {present} bytes where its header declares {needed} "
                f"({dims} voxels); the file is truncated or its header damaged",
                path=path,
            )
    return in_memory


def load_nifti(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> Volume:
    """Read a NIfTI file into a :class:`Volume` (data as stored, scaled if scl_slope set).

    The header's dimensions are checked against ``max_bytes`` (``IMAGING_TRIAGE_MAX_BYTES``)
    and, for an uncompressed file, against the file's size, before any data is read.

    Raises
    ------
    InputError
        If the file cannot be read as NIfTI; the message says which file and why.
    ResourceLimitError
        If the header declares more data than ``max_bytes``.
    """
    import nibabel as nib

    p = Path(path)
    try:
        img: Any = nib.load(str(p))
    except Exception as err:  # nibabel raises many types for broken files
        raise InputError(
            f"cannot read as NIfTI ({type(err).__name__}: {err}); check the file is complete",
            path=p,
        ) from err
    check_nifti_size(img, p, max_bytes)
    try:
        data = np.asanyarray(img.dataobj)
        affine = img.affine
    except MemoryError as err:
        raise ResourceLimitError("not enough memory to read the NIfTI data", path=p) from err
    except Exception as err:  # nibabel raises many types for broken files
        raise InputError(
            f"cannot read as NIfTI ({type(err).__name__}: {err}); check the file is complete",
            path=p,
        ) from err
    if data.dtype.names is not None:
        raise UnsupportedError(
            f"NIfTI holds colour (RGB) data ({data.dtype}); only greyscale images are handled",
            path=p,
        )
    if data.ndim == 2:
        data = data[:, :, np.newaxis]
    while data.ndim > 4 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim not in (3, 4):
        raise InputError(
            f"NIfTI has {data.ndim} dimensions; only 3-D and 4-D images are handled", path=p
        )
    info = SeriesInfo(series_description=p.name.split(".")[0])
    return Volume(data=data, affine=np.asarray(affine, dtype=np.float64), info=info)


def to_sitk(volume: Volume) -> Any:
    """Return a SimpleITK image (LPS physical space) for a 3-D volume.

    The affine must have orthogonal columns (any rotation, no shear); SimpleITK stores
    spacing, origin and a direction matrix. Volumes with shear are refused.
    """
    import SimpleITK as sitk

    if volume.data.ndim != 3:
        raise ValueError("to_sitk handles 3-D volumes only")
    lps = LPS_TO_RAS @ volume.affine
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    direction = lps[:3, :3] / spacing
    if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-4):
        raise GeometryError(
            "affine has shear (non-orthogonal axes); resample onto an orthogonal grid first"
        )
    img = sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(volume.data, (2, 1, 0))))
    img.SetSpacing([float(s) for s in spacing])
    img.SetOrigin([float(o) for o in lps[:3, 3]])
    img.SetDirection([float(d) for d in direction.ravel()])
    return img


def from_sitk(image: Any, info: SeriesInfo | None = None) -> Volume:
    """Build a :class:`Volume` from a 3-D SimpleITK image."""
    import SimpleITK as sitk

    arr = np.transpose(sitk.GetArrayFromImage(image), (2, 1, 0))
    spacing = np.asarray(image.GetSpacing(), dtype=np.float64)
    direction = np.asarray(image.GetDirection(), dtype=np.float64).reshape(3, 3)
    lps = np.eye(4)
    lps[:3, :3] = direction * spacing
    lps[:3, 3] = image.GetOrigin()
    return Volume(data=arr, affine=LPS_TO_RAS @ lps, info=info or SeriesInfo())
