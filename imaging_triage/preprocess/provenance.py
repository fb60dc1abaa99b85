"""Provenance of an output: what was done, with which parameters and library versions.

Written as ``<stem>_provenance.json`` next to each output, last (after the images), so
its presence with matching hashes means the output set is complete: the batch runner
resumes on that basis. Holds no patient identifiers and no input paths.
"""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

_LIBRARIES = ("numpy", "scipy", "SimpleITK", "nibabel", "pydicom", "imaging-triage")


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries that shape the outputs."""
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def hash_files(paths: Iterable[str | Path], chunk: int = 1 << 20, salt: str = "") -> str:
    """SHA-256 over the contents of ``paths`` in sorted order (file names not included).

    Renaming or moving the input tree keeps the hash; changing any byte changes it.
    ``salt`` (the ingest options) is hashed first, so other options give another hash.
    """
    digest = hashlib.sha256()
    if salt:
        digest.update(salt.encode())
    for p in sorted(str(x) for x in paths):
        file_digest = hashlib.sha256()
        with open(p, "rb") as fh:
            while block := fh.read(chunk):
                file_digest.update(block)
        digest.update(file_digest.digest())
    return digest.hexdigest()


@dataclass
class StepRecord:
    """One step as run: its name, parameters, duration and observations."""

    name: str
    params: dict[str, Any]
    seconds: float
    notes: list[str] = field(default_factory=list)


@dataclass
class Provenance:
    """Everything recorded about one output (see the module docstring)."""

    input_sha256: str
    param_hash: str
    pipeline: str
    steps: list[StepRecord] = field(default_factory=list)
    #: output files of this volume, relative to the provenance file's folder
    outputs: dict[str, str] = field(default_factory=dict)
    #: every provenance file of the same input series (several volumes: several files)
    series_outputs: list[str] = field(default_factory=list)
    load_seconds: float = 0.0
    write_seconds: float = 0.0
    shape: list[int] = field(default_factory=list)
    spacing_mm: list[float] = field(default_factory=list)
    corrections: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: the brain-mask QC (:class:`~imaging_triage.preprocess.qc.QCReport` as a dict)
    qc: dict[str, Any] = field(default_factory=dict)
    #: the candidate score, reasons and region count (empty when the checks did not run)
    candidates: dict[str, Any] = field(default_factory=dict)
    libraries: dict[str, str] = field(default_factory=library_versions)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return asdict(self)
