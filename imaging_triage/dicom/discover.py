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

from imaging_triage.errors import InputError, NotDicomError, ResourceLimitError
from imaging_triage.limits import DEFAULT_MAX_BYTES, check_declared, inflated_size

logger = logging.getLogger(__name__)

#: Media Storage Directory Storage: the DICOMDIR index, never an image
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
#: Largest gzipped DICOM we decompress in memory (bytes, uncompressed); the memory
#: limit (IMAGING_TRIAGE_MAX_BYTES) applies too, whichever is smaller
MAX_GZIP_BYTES = 2 * 1024**3
#: Deflated Explicit VR Little Endian: the dataset after the file meta is a raw deflate
#: stream, which pydicom inflates whole; its size is counted first, bounded
DEFLATED_TS = "1.2.840.10008.1.2.1.99"

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
    #: a file that cannot be opened or a folder that cannot be listed (permission, I/O
    #: error): never skipped silently; reading it raises an error naming the reason
    UNREADABLE = "unreadable"


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
        return FileKind.UNREADABLE
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
    unlisted: list[str] = []

    def _unlisted(err: OSError) -> None:
        if err.filename is not None:
            unlisted.append(os.fsdecode(err.filename))

    for dirpath, dirnames, filenames in os.walk(top, onerror=_unlisted, followlinks=False):
        yield from (FoundFile(folder, FileKind.UNREADABLE) for folder in unlisted)
        unlisted.clear()
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
    yield from (FoundFile(folder, FileKind.UNREADABLE) for folder in unlisted)


def open_bytes(
    path: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES
) -> io.BufferedIOBase | io.BytesIO:
    """Open a DICOM file for reading, decompressing ``.gz`` files in memory (bounded).

    Raises
    ------
    InputError
        The gzip stream is corrupt.
    ResourceLimitError
        The gzip stream inflates past :data:`MAX_GZIP_BYTES` or ``max_bytes``.
    """
    p = str(path)
    if not is_gzip(p):
        return open(p, "rb")
    limit = min(MAX_GZIP_BYTES, max_bytes)
    try:
        with gzip.open(p, "rb") as fh:
            payload = fh.read(limit + 1)
    except (OSError, EOFError) as err:
        raise InputError(
            f"corrupt gzip stream ({_short(err)}); re-export or re-compress the file", path=p
        ) from err
    if len(payload) > limit:
        raise ResourceLimitError(
            f"gzipped DICOM inflates past {limit / 1e9:.2f} GB; unpack it first, or raise "
            "IMAGING_TRIAGE_MAX_BYTES if it is genuine",
            path=p,
        )
    return io.BytesIO(payload)


def check_deflated(fh: Any, path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> int:
    """If ``fh`` holds a Deflated Explicit VR dataset, count its inflated size (bounded).

    The stream position is restored. Returns the inflated size, or 0 for any other
    transfer syntax.

    Raises
    ------
    ResourceLimitError
        The dataset inflates past ``max_bytes``.
    """
    start = fh.tell()
    try:
        head = fh.read(64 * 1024)
        if DEFLATED_TS.encode() not in head:
            return 0
        from pydicom.filereader import _read_file_meta_info, read_preamble

        fh.seek(start)
        try:
            read_preamble(fh, True)
            meta = _read_file_meta_info(fh)
        except Exception:
            return 0
        if str(meta.get("TransferSyntaxUID", "")).strip("\0 ") != DEFLATED_TS:
            return 0
        size = inflated_size(fh, path, max_bytes)
        check_declared(size, "the deflated dataset", path, max_bytes)
        return size
    finally:
        fh.seek(start)


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
    if os.path.isdir(p):
        raise InputError(
            "folder cannot be listed (permission denied or I/O error); its files are not "
            "checked: give the user running imaging-triage access to it",
            path=p,
        )
    try:
        with open_bytes(p) as fh:
            check_deflated(fh, p)
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
    except (InputError, ResourceLimitError):
        raise
    except PermissionError as err:
        raise InputError(
            f"permission denied ({_short(err)}); give the user running imaging-triage read "
            "access to the file",
            path=p,
            code="unreadable",
        ) from err
    except OSError as err:
        raise InputError(
            f"cannot read the file ({type(err).__name__}: {_short(err)}); check the disk or "
            "the network share",
            path=p,
        ) from err
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
