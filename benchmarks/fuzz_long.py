"""Hostile-input fuzzing of the ingest: every input ends in a volume or a typed error.

Each case is a folder of one or more files. A worker process (this script with ``--worker``)
runs :func:`imaging_triage.ingest.scan` and then :func:`imaging_triage.ingest.load` on every
series found, and reports one of:

``ok``      at least one volume, finite affine;
``typed``   a :class:`~imaging_triage.errors.TriageError`, a series dropped/failed with a
            reason, an unreadable file with a reason, or no DICOM found;
``bug``     any other exception (traceback kept), or a status without a reason, a non-finite
            affine, an ``ok`` series that gives no volume;
``hang``    no answer within the per-case time bound (the worker is killed and restarted);
``crash``   the worker died (segfault, abort, out of memory).

Workers run with a memory cap (``RLIMIT_AS``) and ``IMAGING_TRIAGE_MAX_BYTES`` set low, so a
header declaring a huge matrix must be refused with a typed error before anything is allocated.

Corpora (all deterministic for a given seed):

* ``pydicom``: pydicom's bundled malformed test files (no meta, bad VR, truncated, empty, ...);
* ``truncated``: real files from ../shared/realdata cut at many offsets (header, pixel data);
* ``mutated``: byte-level mutations (flips, overwritten lengths, inserted/deleted runs) of small
  seeds (synthetic CT, pydicom test files, real files);
* ``hostile``: the trust round 2 family (decompression bombs, codestream sizes that
  disagree with the header, damaged RLE, oversized NIfTI headers, non-UTF-8 folder names,
  huge and control-character header strings);
* ``header``: structured header mutations (Rows=Columns=65535 with a huge NumberOfFrames,
  invalid BitsAllocated, NaN spacing, degenerate orientation, mixed series, ...).

The quick, bounded run is part of the test suite (``tests/test_fuzz.py``). The longer run::

    python benchmarks/fuzz_long.py --seconds 300 [--seed 1] [--jobs 2] [--timeout 30]
        [--save fuzz_findings/]

mutates for the given wall time after the fixed corpora, prints counts per corpus and outcome
as JSON, and with ``--save`` keeps the smallest reproducer of each distinct bug (by exception
type and location). Exit status 0 when no bug, hang or crash was seen, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import queue
import random
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("IMAGING_TRIAGE_REALDATA", ROOT.parent / "shared" / "realdata"))

#: substrings of pydicom test file names that mark malformed or edge-case files
PYDICOM_BAD_NAMES = ("no_meta", "nometa", "bad", "trunc", "empty", "invalid", "nonconform")
#: a few well-formed pydicom files used as mutation seeds
PYDICOM_SEEDS = (
    "CT_small.dcm",
    "MR_small.dcm",
    "JPEG2000.dcm",
    "MR_small_RLE.dcm",
    "JPEG-lossy.dcm",
)
#: real files (relative to realdata) truncated at many offsets and used as seeds
REAL_FILES = (
    "dcm_qa_ct/In/Philips/S21570/S2010/I10",
    "dcm_qa_ts/In/1.dcm",
    "dcm_qa_ts/In/5.dcm",
    "dcm_qa_ts/In/9.dcm",
    "dcm_qa_ts/In/4.dcm",
)
REAL_GLOBS = ("dcm_qa_xa30/In/5_anat-T1w_acq-tfl/*.dcm",)

WORKER_MAX_BYTES = 256 * 1024**2
WORKER_RLIMIT_AS = 6 * 1024**3


# --------------------------------------------------------------------------- worker side


def _classify_case(case_dir: str) -> dict[str, Any]:
    import numpy as np

    from imaging_triage.errors import TriageError
    from imaging_triage.ingest import Status, load, scan

    try:
        result = scan(case_dir)
    except TriageError as err:
        return {"outcome": "typed", "detail": f"scan: {type(err).__name__} {err.code}"}
    details: list[str] = []
    volumes = 0
    digest = hashlib.sha256()
    for _path, reason in result.unreadable:
        if not reason:
            return {"outcome": "bug", "detail": "unreadable file without a reason"}
        details.append("unreadable")
    for record in result.series:
        if record.status is not Status.OK:
            if not record.reason:
                return {"outcome": "bug", "detail": f"status {record.status.value} without reason"}
            details.append(record.status.value)
            continue
        try:
            vols = load(record)
        except TriageError as err:
            details.append(f"{type(err).__name__}:{err.code}")
            continue
        if not vols:
            return {"outcome": "bug", "detail": "status ok but load() returned no volume"}
        for vol in vols:
            if not np.all(np.isfinite(vol.affine)):
                return {"outcome": "bug", "detail": "non-finite affine"}
            digest.update(np.ascontiguousarray(vol.data).tobytes())
            digest.update(np.asarray(vol.affine, dtype=np.float64).tobytes())
        volumes += len(vols)
    if volumes:
        return {"outcome": "ok", "detail": f"{volumes} volume(s)", "digest": digest.hexdigest()}
    return {"outcome": "typed", "detail": ",".join(sorted(set(details))) or "no DICOM found"}


def worker_main() -> int:
    """Answer one JSON line per case folder read from stdin (``--worker`` mode)."""
    import logging
    import resource
    import warnings

    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    limit = int(os.environ.get("FUZZ_RLIMIT_AS", WORKER_RLIMIT_AS))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    for line in sys.stdin:
        case_dir = line.strip()
        if not case_dir:
            continue
        try:
            answer = _classify_case(case_dir)
        except KeyboardInterrupt:
            raise
        except BaseException as err:  # Rust decoders raise pyo3 PanicException (BaseException)
            tb = traceback.extract_tb(err.__traceback__)
            where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
            answer = {
                "outcome": "bug",
                "detail": f"{type(err).__name__} at {where}",
                "traceback": traceback.format_exc()[-4000:],
            }
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    return 0


# --------------------------------------------------------------------------- parent side


@dataclass
class Case:
    """One fuzz input: files (name -> bytes) written into their own folder."""

    corpus: str
    label: str
    files: dict[str, bytes]

    @property
    def size(self) -> int:
        return sum(len(v) for v in self.files.values())


@dataclass
class Result:
    """What a worker said about a case."""

    case: Case
    outcome: str
    detail: str
    traceback: str = ""
    #: SHA-256 of the volumes' data and affines (``ok`` only), to spot silent corruption
    digest: str = ""


class Worker:
    """A persistent worker subprocess with a per-case time bound."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.proc: subprocess.Popen[str] | None = None
        #: whether the worker has answered once (imports done)
        self.warm = False

    def _start(self) -> subprocess.Popen[str]:
        env = dict(os.environ)
        env.update(
            {
                "IMAGING_TRIAGE_MAX_BYTES": str(WORKER_MAX_BYTES),
                "OMP_NUM_THREADS": "1",
                "OPENBLAS_NUM_THREADS": "1",
                "MKL_NUM_THREADS": "1",
                "PYTHONWARNINGS": "ignore",
            }
        )
        return subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )

    def run(self, case_dir: str) -> dict[str, Any]:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        proc = self.proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(case_dir + "\n")
            proc.stdin.flush()
        except BrokenPipeError:
            self.stop()
            return {"outcome": "crash", "detail": "worker gone before the case"}
        # the first case also pays the interpreter start and imports
        deadline = time.monotonic() + self.timeout + (0.0 if self.warm else 15.0)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                return {"outcome": "hang", "detail": f"no answer within {self.timeout:.0f} s"}
            ready, _, _ = select.select([proc.stdout], [], [], remaining)
            if ready:
                line = proc.stdout.readline()
                if not line:
                    code = proc.wait()
                    self.proc = None
                    return {"outcome": "crash", "detail": f"worker died (exit {code})"}
                self.warm = True
                answer: dict[str, Any] = json.loads(line)
                return answer

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        self.warm = False


def run_cases(
    cases: Iterator[Case] | Sequence[Case],
    *,
    jobs: int = 2,
    timeout: float = 30.0,
    workdir: Path | None = None,
    on_result: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Run every case in ``jobs`` workers; return one :class:`Result` per case."""
    base = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="fuzz_"))
    todo: queue.Queue[tuple[int, Case] | None] = queue.Queue(maxsize=jobs * 4)
    results: list[Result] = []
    lock = threading.Lock()

    def serve() -> None:
        worker = Worker(timeout)
        try:
            while True:
                item = todo.get()
                if item is None:
                    return
                index, case = item
                folder = base / f"case_{index:06d}"
                folder.mkdir(parents=True, exist_ok=True)
                for name, payload in case.files.items():
                    (folder / name).parent.mkdir(parents=True, exist_ok=True)
                    (folder / name).write_bytes(payload)
                answer = worker.run(str(folder))
                res = Result(
                    case,
                    answer["outcome"],
                    answer.get("detail", ""),
                    answer.get("traceback", ""),
                    answer.get("digest", ""),
                )
                shutil.rmtree(folder, ignore_errors=True)
                with lock:
                    results.append(res)
                    if on_result is not None:
                        on_result(res)
        finally:
            worker.stop()

    threads = [threading.Thread(target=serve, daemon=True) for _ in range(max(1, jobs))]
    for t in threads:
        t.start()
    for index, case in enumerate(cases):
        todo.put((index, case))
    for _ in threads:
        todo.put(None)
    for t in threads:
        t.join()
    if workdir is None:
        shutil.rmtree(base, ignore_errors=True)
    return results


# --------------------------------------------------------------------------- corpora


def synthetic_ct(index: int = 0, n: int = 1, rows: int = 16, cols: int = 12) -> bytes:
    """A small valid CT slice (explicit VR little endian), position ``index`` of a stack."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = UID(f"1.2.826.0.1.3680043.8.498.77.{index + 1}")
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.70"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.77"
    ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.78"
    ds.Modality = "CT"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SeriesNumber = 2
    ds.InstanceNumber = index + 1
    ds.ImagePositionPatient = [-10.0, -10.0, 2.5 * index]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [0.8, 0.6]
    ds.SliceThickness = 2.5
    ds.RescaleSlope = 1
    ds.RescaleIntercept = -1024
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    rng = np.random.default_rng(index)
    ds.PixelData = rng.integers(0, 2000, size=(rows, cols), dtype=np.int16).tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _edit(payload: bytes, fn: Callable[[Any], None]) -> bytes:
    import warnings

    import pydicom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid values are the point here
        ds = pydicom.dcmread(io.BytesIO(payload))
        fn(ds)
        buf = io.BytesIO()
        ds.save_as(buf)
    return buf.getvalue()


def header_cases() -> Iterator[Case]:
    """Structured header mutations of the synthetic CT (single files and 3-slice series)."""
    from pydicom.uid import JPEGBaseline8Bit

    def setter(**values: Any) -> Callable[[Any], None]:
        def fn(ds: Any) -> None:
            for k, v in values.items():
                setattr(ds, k, v)

        return fn

    def deleter(*keywords: str) -> Callable[[Any], None]:
        def fn(ds: Any) -> None:
            for k in keywords:
                if k in ds:
                    delattr(ds, k)

        return fn

    def jpeg_garbage(ds: Any) -> None:
        from pydicom.encaps import encapsulate

        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
        ds.PixelData = encapsulate([b"\xff\xd8\xff\xe0 not really a JPEG" * 3])

    edits: list[tuple[str, Callable[[Any], None]]] = [
        ("huge-matrix", setter(Rows=65535, Columns=65535, NumberOfFrames="2147483647")),
        ("huge-matrix-1frame", setter(Rows=65535, Columns=65535)),
        ("huge-frames", setter(NumberOfFrames="2147483647")),
        ("huge-samples", setter(Rows=65535, Columns=65535, SamplesPerPixel=65535)),
        ("zero-rows", setter(Rows=0)),
        ("zero-frames", setter(NumberOfFrames="0")),
        ("negative-frames", setter(NumberOfFrames="-5")),
        ("bits-7", setter(BitsAllocated=7)),
        ("bits-0", setter(BitsAllocated=0)),
        ("bits-64", setter(BitsAllocated=64, BitsStored=64, HighBit=63)),
        ("bits-1", setter(BitsAllocated=1, BitsStored=1, HighBit=0)),
        ("highbit-over", setter(HighBit=40, BitsStored=40)),
        ("samples-3-mono", setter(SamplesPerPixel=3)),
        ("samples-0", setter(SamplesPerPixel=0)),
        ("photometric-ybr", setter(PhotometricInterpretation="YBR_FULL_422")),
        ("photometric-palette", setter(PhotometricInterpretation="PALETTE COLOR")),
        ("pixelrep-7", setter(PixelRepresentation=7)),
        ("planar-7", setter(PlanarConfiguration=7)),
        ("spacing-zero", setter(PixelSpacing=[0, 0])),
        ("spacing-nan", setter(PixelSpacing=["nan", "nan"])),
        ("spacing-neg", setter(PixelSpacing=[-1, -1])),
        ("spacing-one-value", setter(PixelSpacing=["0.5"])),
        ("spacing-huge", setter(PixelSpacing=["1e308", "1e308"])),
        ("iop-zero", setter(ImageOrientationPatient=[0, 0, 0, 0, 0, 0])),
        ("iop-parallel", setter(ImageOrientationPatient=[1, 0, 0, 1, 0, 0])),
        ("iop-short", setter(ImageOrientationPatient=[1, 0, 0])),
        ("iop-nan", setter(ImageOrientationPatient=["nan", 0, 0, 0, 1, 0])),
        ("ipp-inf", setter(ImagePositionPatient=["inf", 0, 0])),
        ("ipp-short", setter(ImagePositionPatient=[0, 0])),
        ("slope-nan", setter(RescaleSlope="nan")),
        ("slope-zero", setter(RescaleSlope=0)),
        ("slope-huge", setter(RescaleSlope="1e308")),
        ("intercept-inf", setter(RescaleIntercept="inf")),
        ("thickness-neg", setter(SliceThickness=-3)),
        ("no-rows", deleter("Rows")),
        ("no-pixels", deleter("PixelData")),
        ("no-geometry", deleter("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing")),
        ("no-uids", deleter("SeriesInstanceUID", "StudyInstanceUID", "SOPInstanceUID")),
        ("no-modality", deleter("Modality")),
        ("pixels-short", setter(PixelData=b"\x00\x01" * 10)),
        ("pixels-empty", setter(PixelData=b"")),
        ("syntax-jpeg-garbage", jpeg_garbage),
        ("modality-empty", setter(Modality="")),
        ("imagetype-empty", setter(ImageType="")),
        ("series-number-text", setter(SeriesNumber=None)),
        ("frames-mismatch", setter(NumberOfFrames="3")),
    ]
    for label, fn in edits:
        payload = _edit(synthetic_ct(0), fn)
        yield Case("header", label, {"a.dcm": payload})
        # the same damage in the middle of an otherwise good 3-slice series
        files = {f"s{i}.dcm": synthetic_ct(i) for i in range(3)}
        files["s1.dcm"] = _edit(synthetic_ct(1), fn)
        yield Case("header", label + "-in-series", files)
    # transfer syntax UIDs swapped in the bytes (same length, so the meta stays parseable)
    for new in ("1.2.840.10008.1.2.5", "1.2.840.10008.1.2.2", "9.9.9.9.9.9.9.9.9.9"):
        payload = synthetic_ct(0).replace(b"1.2.840.10008.1.2.1\x00", new.encode() + b"\x00", 1)
        yield Case("header", f"syntax-{new}", {"a.dcm": payload})
    # series-level inconsistencies
    yield Case(
        "header",
        "duplicate-positions",
        {
            f"s{i}.dcm": _edit(synthetic_ct(i), setter(ImagePositionPatient=[0, 0, 0]))
            for i in range(3)
        },
    )
    yield Case(
        "header",
        "mixed-sizes",
        {f"s{i}.dcm": synthetic_ct(i, rows=16 + 4 * i) for i in range(3)},
    )
    yield Case(
        "header",
        "huge-gap",
        {
            "s0.dcm": synthetic_ct(0),
            "s1.dcm": synthetic_ct(1),
            "s2.dcm": _edit(synthetic_ct(2), setter(ImagePositionPatient=[-10, -10, 1e9])),
        },
    )


def pydicom_cases() -> Iterator[Case]:
    """pydicom's bundled malformed and edge-case files (local copies only, no download)."""
    from pydicom.data import get_testdata_files

    for path in sorted(get_testdata_files()):
        name = Path(path).name
        if any(k in name.lower() for k in PYDICOM_BAD_NAMES):
            yield Case("pydicom", name, {name: Path(path).read_bytes()})


# --------------------------------------------------------------------------- hostile family

#: how far past WORKER_MAX_BYTES the bombs inflate (their decoded size, bytes)
BOMB_BYTES = 4 * WORKER_MAX_BYTES


def _deflate_bomb(inflated: int) -> bytes:
    """A Deflated Explicit VR Little Endian file: a 64x64 slice whose dataset inflates to
    ``inflated`` bytes (a PixelData element of that length, all zeros). Streamed: the
    generator never holds the inflated bytes."""
    import struct
    import zlib

    import pydicom
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset, write_file_meta_info
    from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian

    ds = pydicom.dcmread(io.BytesIO(synthetic_ct(0, rows=64, cols=64)))
    del ds.PixelData
    meta = ds.file_meta
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    head = DicomBytesIO()
    head.is_little_endian, head.is_implicit_VR = True, False
    write_file_meta_info(head, meta, enforce_standard=True)
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    del ExplicitVRLittleEndian
    element = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, inflated)
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    out = [b"\0" * 128, b"DICM", head.getvalue(), comp.compress(body.getvalue() + element)]
    chunk = bytes(1 << 20)
    for _ in range(inflated // len(chunk)):
        out.append(comp.compress(chunk))
    out.append(comp.compress(bytes(inflated % len(chunk))))
    out.append(comp.flush())
    return b"".join(out)


def _gzip_bomb(inflated: int) -> bytes:
    """A gzipped explicit-VR file whose PixelData inflates to ``inflated`` bytes."""
    import gzip

    ds_bytes = synthetic_ct(0, rows=64, cols=64)
    import struct

    end = ds_bytes.rfind(struct.pack("<HH", 0x7FE0, 0x0010))
    head = ds_bytes[:end] + struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, inflated)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as gz:
        gz.write(head)
        chunk = bytes(1 << 20)
        for _ in range(inflated // len(chunk)):
            gz.write(chunk)
    return buf.getvalue()


def _patch(data: bytes, marker: bytes, offset: int, value: bytes) -> bytes:
    """Overwrite ``value`` at ``offset`` bytes after the first ``marker`` in ``data``."""
    at = data.index(marker) + offset
    return data[:at] + value + data[at + len(value) :]


def _testfile(name: str) -> bytes:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    assert path is not None, name
    return Path(str(path)).read_bytes()


def _nifti_header(shape: tuple[int, ...], gz: bool) -> bytes:
    """A NIfTI-1 header (and no data) declaring ``shape`` of int16."""
    import gzip

    import nibabel as nib
    import numpy as np

    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.int16)
    raw = header.binaryblock + b"\0" * 4
    return gzip.compress(raw + bytes(4096), mtime=0) if gz else raw


def _with_description(text: str, modality: str | None = None) -> Callable[[Any], None]:
    def fn(ds: Any) -> None:
        ds.SeriesDescription = text
        if modality is not None:
            ds.Modality = modality

    return fn


def hostile_cases(bomb_bytes: int = BOMB_BYTES) -> Iterator[Case]:
    """The trust round 2 family (issue 11): decompression bombs, codestreams declaring
    another size than the header, a damaged RLE stream, NIfTI headers declaring more than
    the limit or the file holds, non-UTF-8 folder names, huge and control-character header
    strings. Every case must end ``ok`` or ``typed`` with memory under the limit."""
    bomb = _deflate_bomb(bomb_bytes)
    yield Case("hostile", "deflate-bomb", {"bomb.dcm": bomb})
    import gzip

    yield Case("hostile", "gz-deflate-bomb", {"bomb.dcm.gz": gzip.compress(bomb, mtime=0)})
    yield Case("hostile", "gzip-bomb", {"bomb.dcm.gz": _gzip_bomb(bomb_bytes)})
    yield Case("hostile", "deflate-small-ok", {"small.dcm": _deflate_bomb(64 * 64 * 2)})
    j2k = _testfile("MR_small_jp2klossless.dcm")
    siz = b"\xff\x4f\xff\x51"
    yield Case(
        "hostile",
        "j2k-siz-60000",
        {"j2k.dcm": _patch(j2k, siz, 8, (60000).to_bytes(4, "big") * 2)},
    )
    damaged = bytearray(j2k)  # SIZ intact, the code-blocks scrambled: the decoder fails
    start = j2k.index(siz) + 120
    for k in range(start, min(start + 1500, len(damaged) - 64)):
        damaged[k] ^= 0x5A
    yield Case("hostile", "j2k-damaged-body", {"j2k.dcm": bytes(damaged)})
    jls = _testfile("MR_small_jpeg_ls_lossless.dcm")
    yield Case(
        "hostile",
        "jpegls-sof55-65535",
        {"jls.dcm": _patch(jls, b"\xff\xf7", 5, b"\xff\xff\xff\xff")},
    )
    jpg = _testfile("JPEG-lossy.dcm")
    sof = b"\xff\xc1" if b"\xff\xc1" in jpg else b"\xff\xc0"
    yield Case("hostile", "jpeg-sof-huge", {"jpg.dcm": _patch(jpg, sof, 5, b"\xff\xf0\xff\xf0")})
    rle = _testfile("MR_small_RLE.dcm")
    frag = rle.index(b"\xfe\xff\x00\xe0", rle.index(b"\xfe\xff\x00\xe0") + 8) + 8
    yield Case(
        "hostile",
        "rle-bad-offset",
        {"rle.dcm": rle[: frag + 8] + (0x7FFFFFF0).to_bytes(4, "little") + rle[frag + 12 :]},
    )
    yield Case("hostile", "nifti-gz-8gib", {"big.nii.gz": _nifti_header((2048, 2048, 1024), True)})
    yield Case("hostile", "nifti-16gib", {"big.nii": _nifti_header((2048, 2048, 2048), False)})
    yield Case("hostile", "nifti-short", {"short.nii": _nifti_header((64, 64, 8), False)})
    latin = "M\udcfcller"  # latin-1 b"M\xfcller" as the file system hands it to Python
    yield Case(
        "hostile",
        "latin1-folder",
        {f"{latin}/{i}.dcm": synthetic_ct(i, n=3) for i in range(3)},
    )
    long_text = "A" * 200_000
    yield Case(
        "hostile",
        "description-200k",
        {f"{i}.dcm": _edit(synthetic_ct(i, n=3), _with_description(long_text)) for i in range(3)},
    )
    yield Case(
        "hostile",
        "control-characters",
        {
            f"{i}.dcm": _edit(
                synthetic_ct(i, n=3), _with_description("\x1b[2J\x1b]0;pwned\x07", "C\x1bT")
            )
            for i in range(3)
        },
    )


def _real_files(realdata: Path) -> list[Path]:
    found = [realdata / rel for rel in REAL_FILES if (realdata / rel).is_file()]
    for pattern in REAL_GLOBS:
        found.extend(sorted(realdata.glob(pattern))[:1])
    return found


def truncation_offsets(size: int, n: int, rng: random.Random) -> list[int]:
    """Offsets in the preamble/meta, around the header end, spread over the pixels."""
    fixed = [0, 1, 64, 128, 131, 132, 133, 140, 200, 300, 500, 800, 1200, 2000]
    spread = [int(size * f) for f in (0.25, 0.5, 0.75, 0.9, 0.99)] + [size - 1, size - 2]
    rand = [rng.randrange(1, size) for _ in range(max(0, n - len(fixed) - len(spread)))]
    return sorted({o for o in fixed + spread + rand if 0 <= o < size})


def truncated_cases(realdata: Path, per_file: int, rng: random.Random) -> Iterator[Case]:
    """Real files cut at many offsets."""
    for path in _real_files(realdata):
        data = path.read_bytes()
        for offset in truncation_offsets(len(data), per_file, rng):
            yield Case(
                "truncated", f"{path.relative_to(realdata)}@{offset}", {"x.dcm": data[:offset]}
            )


def seeds(realdata: Path | None) -> list[tuple[str, bytes]]:
    """Small valid files to mutate."""
    from pydicom.data import get_testdata_files

    out = [("synthetic_ct", synthetic_ct(0))]
    for name in sorted(get_testdata_files()):
        if Path(name).name in PYDICOM_SEEDS:
            out.append((Path(name).name, Path(name).read_bytes()))
    if realdata is not None:
        for path in _real_files(realdata):
            if path.stat().st_size <= 2_000_000:
                out.append((str(path.relative_to(realdata)), path.read_bytes()))
    return out


def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One random mutation, biased towards the header (where parsers break)."""
    buf = bytearray(data)
    header_end = min(len(buf), 2048)
    kind = rng.choice(("flip", "flips", "len32", "len16", "insert", "delete", "dup", "vr", "cut"))
    pos = rng.randrange(0, max(1, header_end if rng.random() < 0.85 else len(buf)))
    if kind == "flip" and buf:
        buf[pos % len(buf)] ^= 1 << rng.randrange(8)
    elif kind == "flips":
        for _ in range(rng.randint(2, 16)):
            p = rng.randrange(0, max(1, header_end))
            if p < len(buf):
                buf[p] = rng.randrange(256)
    elif kind == "len32":
        value = rng.choice(
            (0xFFFFFFFF, 0xFFFFFFFE, 0x7FFFFFFF, 0, 1, 0x10000, rng.randrange(2**32))
        )
        buf[pos : pos + 4] = value.to_bytes(4, "little")
    elif kind == "len16":
        value = rng.choice((0xFFFF, 0, 1, rng.randrange(2**16)))
        buf[pos : pos + 2] = value.to_bytes(2, "little")
    elif kind == "insert":
        buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    elif kind == "delete":
        del buf[pos : pos + rng.randint(1, 64)]
    elif kind == "dup":
        n = rng.randint(1, 256)
        buf[pos:pos] = buf[pos : pos + n]
    elif kind == "vr":
        buf[pos : pos + 2] = rng.choice((b"SQ", b"UN", b"OB", b"UT", b"XX", b"\x00\x00"))
    else:  # cut then flip
        buf = buf[: max(1, pos)]
        if buf:
            buf[-1] ^= 0xFF
    return kind, bytes(buf)


def mutated_cases(
    seed_files: list[tuple[str, bytes]], n: int, rng: random.Random, prefix: str = ""
) -> Iterator[Case]:
    """``n`` mutants; about one in five is a slice of a 3-slice synthetic series."""
    series = [synthetic_ct(i) for i in range(3)]
    for i in range(n):
        if rng.random() < 0.2:
            kind, payload = mutate(series[1], rng)
            files = {"s0.dcm": series[0], "s1.dcm": payload, "s2.dcm": series[2]}
            yield Case("mutated", f"series/{kind}#{prefix}{i}", files)
            continue
        name, data = seed_files[rng.randrange(len(seed_files))]
        kind, payload = mutate(data, rng)
        if rng.random() < 0.3:  # stack two mutations
            kind2, payload = mutate(payload, rng)
            kind = f"{kind}+{kind2}"
        yield Case("mutated", f"{name}/{kind}#{prefix}{i}", {"x.dcm": payload})


def summarize(results: list[Result]) -> dict[str, Any]:
    """Counts per corpus and outcome, and the distinct bugs with their smallest reproducer."""
    counts: dict[str, Counter[str]] = {}
    for r in results:
        counts.setdefault(r.case.corpus, Counter())[r.outcome] += 1
    problems: dict[str, Result] = {}
    for r in results:
        if r.outcome in ("bug", "hang", "crash"):
            key = f"{r.outcome}: {r.detail}"
            if key not in problems or r.case.size < problems[key].case.size:
                problems[key] = r
    return {
        "cases": len(results),
        "counts": {k: dict(v) for k, v in sorted(counts.items())},
        "problems": {
            k: f"{v.case.corpus}:{v.case.label} ({v.case.size} bytes)" for k, v in problems.items()
        },
    }


def save_problems(results: list[Result], folder: Path) -> None:
    """Keep the smallest reproducer (files + traceback) of each distinct problem."""
    best: dict[str, Result] = {}
    for r in results:
        if r.outcome in ("bug", "hang", "crash"):
            key = f"{r.outcome}: {r.detail}"
            if key not in best or r.case.size < best[key].case.size:
                best[key] = r
    for n, (key, r) in enumerate(sorted(best.items())):
        target = folder / f"problem_{n:02d}"
        target.mkdir(parents=True, exist_ok=True)
        for name, payload in r.case.files.items():
            (target / name).write_bytes(payload)
        (target / "README.txt").write_text(
            f"{key}\ncase: {r.case.corpus}:{r.case.label}\n\n{r.traceback}\n"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fixed corpora, then mutate until ``--seconds`` have passed."""
    parser = argparse.ArgumentParser(description="Fuzz the ingest (see the module docstring).")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=60.0, help="wall time for mutants")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=30.0, help="per-case time bound (s)")
    parser.add_argument("--save", type=Path, default=None, help="folder for reproducers")
    parser.add_argument("--realdata", type=Path, default=REALDATA)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main()
    rng = random.Random(args.seed)
    realdata = args.realdata if (args.realdata / "README.md").is_file() else None
    start = time.monotonic()

    def everything() -> Iterator[Case]:
        yield from pydicom_cases()
        yield from header_cases()
        yield from hostile_cases()
        if realdata is not None:
            yield from truncated_cases(realdata, 40, rng)
        seed_files = seeds(realdata)
        batch = 0
        while time.monotonic() - start < args.seconds:
            yield from mutated_cases(
                seed_files, 50, random.Random(f"{args.seed}/{batch}"), prefix=f"{batch}."
            )
            batch += 1

    def progress(r: Result) -> None:
        if r.outcome in ("bug", "hang", "crash"):
            print(f"{r.outcome}: {r.case.corpus}:{r.case.label}: {r.detail}", file=sys.stderr)

    results = run_cases(everything(), jobs=args.jobs, timeout=args.timeout, on_result=progress)
    summary = summarize(results)
    summary["seconds"] = round(time.monotonic() - start, 1)
    summary["seed"] = args.seed
    print(json.dumps(summary, indent=2))
    if args.save is not None:
        save_problems(results, args.save)
    return 1 if summary["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
