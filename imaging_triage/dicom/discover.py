"""Walk a tree and recognise DICOM and NIfTI files by content, reading headers only.

Many archives store DICOM without a file extension (DICOMDIR-style trees), so a file is
DICOM when it carries the ``DICM`` marker after its 128-byte preamble, or, lacking the
preamble, when it parses as a dataset holding the attributes every image has. DICOMDIR
index files are recognised and skipped; other files are counted and skipped.
"""

from __future__ import annotations

import enum
import gzip
import io
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imaging_triage.errors import InputError, NotDicomError

logger = logging.getLogger(__name__)

#: Media Storage Directory Storage: the DICOMDIR index, never an image
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
#: Largest gzipped DICOM we decompress in memory (bytes, uncompressed)
MAX_GZIP_BYTES = 2 * 1024**3

_NIFTI_SUFFIXES = (".nii", ".nii.gz")
#: a folder holding a file of this name is skipped with everything under it (derived
#: data such as ground-truth label volumes that are not studies)
IGNORE_MARKER = ".imaging-triage-ignore"
_SKIP_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}


class FileKind(str, enum.Enum):
    """What :func:`classify` made of a file."""

    #: a DICOM dataset (Part 10 file, or a bare dataset that parses)
    DICOM = "dicom"
    #: a DICOMDIR index (skipped)
    DICOMDIR = "dicomdir"
    #: a NIfTI-1/2 image
    NIFTI = "nifti"
    #: anything else (skipped, counted)
    OTHER = "other"


@dataclass(frozen=True)
class FoundFile:
    """A file met during the walk and what it is."""

    path: str
    kind: FileKind


def is_gzip(path: str | os.PathLike[str]) -> bool:
    """Whether the file name ends in ``.gz``."""
    return str(path).lower().endswith(".gz")


def _has_dicm_marker(head: bytes) -> bool:
    return len(head) >= 132 and head[128:132] == b"DICM"


def _read_head(path: str) -> bytes:
    if is_gzip(path):
        try:
            with gzip.open(path, "rb") as fh:
                return fh.read(132)
        except (OSError, EOFError):
            return b""
    with open(path, "rb") as fh:
        return fh.read(132)


def _looks_like_nifti(path: str) -> bool:
    name = path.lower()
    return name.endswith(_NIFTI_SUFFIXES)


def _plausible_bare_dataset(head: bytes) -> bool:
    """A dataset without preamble starts with a group 0x0002 or 0x0008 element."""
    if len(head) < 8:
        return False
    group = int.from_bytes(head[0:2], "little")
    group_be = int.from_bytes(head[0:2], "big")
    return group in (0x0002, 0x0008) or group_be in (0x0002, 0x0008)


def classify(path: str | os.PathLike[str]) -> FileKind:
    """Tell what a file is from its name (NIfTI) and its first bytes (DICOM).

    Parameters
    ----------
    path : path-like
        The file.

    Returns
    -------
    FileKind
        ``DICOMDIR`` is only recognised later, when its header is read; a DICOMDIR file is
        reported here as ``DICOM``.
    """
    p = str(path)
    if _looks_like_nifti(p):
        return FileKind.NIFTI
    try:
        head = _read_head(p)
    except OSError:
        return FileKind.OTHER
    if _has_dicm_marker(head) or _plausible_bare_dataset(head):
        return FileKind.DICOM
    return FileKind.OTHER


def walk(root: str | os.PathLike[str]) -> Iterator[FoundFile]:
    """Yield every file under ``root`` (or ``root`` itself) in a stable order.

    Symbolic links to files are followed; links to folders are not (no cycles).
    Hidden files and folders (name starting with ``.``) are skipped, and so is any folder
    holding a file named :data:`IGNORE_MARKER` (``.imaging-triage-ignore``).
    """
    top = Path(root)
    if top.is_file():
        yield FoundFile(str(top), classify(top))
        return
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        if IGNORE_MARKER in filenames:
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or name in _SKIP_NAMES:
                continue
            full = os.path.join(dirpath, name)
            if not os.path.isfile(full):
                continue
            yield FoundFile(full, classify(full))


def open_bytes(path: str | os.PathLike[str]) -> io.BufferedIOBase | io.BytesIO:
    """Open a DICOM file for reading, decompressing ``.gz`` files in memory.

    Raises
    ------
    InputError
        The gzip stream is corrupt or larger than :data:`MAX_GZIP_BYTES`.
    """
    p = str(path)
    if not is_gzip(p):
        return open(p, "rb")
    try:
        with gzip.open(p, "rb") as fh:
            payload = fh.read(MAX_GZIP_BYTES + 1)
    except (OSError, EOFError) as err:
        raise InputError(
            f"corrupt gzip stream ({err}); re-export or re-compress the file", path=p
        ) from err
    if len(payload) > MAX_GZIP_BYTES:
        raise InputError("gzipped DICOM larger than 2 GiB uncompressed; unpack it first", path=p)
    return io.BytesIO(payload)


def read_header(path: str | os.PathLike[str], *, pixels: bool = False) -> Any:
    """Read a DICOM dataset; without ``pixels``, stop before the pixel data.

    Parameters
    ----------
    path : path-like
        A DICOM file, possibly gzipped.
    pixels : bool
        Also read the pixel data element.

    Returns
    -------
    pydicom.dataset.FileDataset

    Raises
    ------
    NotDicomError
        The file does not parse as DICOM.
    InputError
        The file is truncated or otherwise unreadable.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    p = str(path)
    try:
        with open_bytes(p) as fh:
            ds = pydicom.dcmread(fh, stop_before_pixels=not pixels, force=True)
            if pixels and "PixelData" in ds:
                _ = ds.PixelData  # materialise while the file is open
    except InvalidDicomError as err:
        if _marked_dicom(p):
            raise InputError(
                f"DICOM file that cannot be parsed ({err}); it may be truncated: re-export it",
                path=p,
            ) from err
        raise NotDicomError(f"not a DICOM file ({err})", path=p) from err
    except InputError:
        raise
    except Exception as err:  # pydicom raises many types on damaged files
        raise InputError(
            f"cannot parse DICOM ({type(err).__name__}: {_short(err)}); the file may be truncated"
            " or damaged: re-export it from the archive",
            path=p,
        ) from err
    if not _is_real_dataset(ds):
        if _marked_dicom(p):
            raise InputError(
                "DICOM file without its core attributes (SOP class, image size); it is "
                "truncated or damaged: re-export it",
                path=p,
            )
        raise NotDicomError("no DICOM attributes found; not a DICOM file", path=p)
    return ds


def _marked_dicom(path: str) -> bool:
    """Whether the file carries the Part 10 ``DICM`` marker: then it *is* DICOM, damaged
    or not, and must never be skipped as "not DICOM"."""
    try:
        return _has_dicm_marker(_read_head(path))
    except OSError:
        return False


def _is_real_dataset(ds: Any) -> bool:
    """A forced parse of a random file yields odd tags; require core attributes."""
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "MediaStorageSOPClassUID" in meta:
        return True
    return "SOPClassUID" in ds or ("Rows" in ds and "Columns" in ds)


def is_dicomdir(ds: Any) -> bool:
    """Whether a dataset is a DICOMDIR index."""
    meta = getattr(ds, "file_meta", None)
    sop = str(getattr(meta, "MediaStorageSOPClassUID", "") or ds.get("SOPClassUID", ""))
    return sop == DICOMDIR_SOP_CLASS or "DirectoryRecordSequence" in ds


def _short(err: BaseException, limit: int = 160) -> str:
    text = str(err).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."
