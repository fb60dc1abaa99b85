"""Record types: typed fields, the compatibility view of the former ``extra`` dict."""

from __future__ import annotations

import pickle

import pytest

from imaging_triage import ingest
from imaging_triage.records import SeriesRecord, SourceKind, Status, Strictness, VolumeRole


def test_old_import_path_still_works() -> None:
    assert ingest.SeriesRecord is SeriesRecord and ingest.Status is Status


def test_extra_view_reads_and_writes_the_typed_fields() -> None:
    record = SeriesRecord(input="a", files=[], header={"modality": "CT"})
    extra = record.extra
    assert isinstance(extra, dict)
    assert extra["header"] == {"modality": "CT"} and extra.get("strictness") == "strict"
    extra["root"] = "/data"
    extra["strictness"] = "resample"
    assert record.root == "/data" and record.strictness is Strictness.RESAMPLE
    with pytest.raises(KeyError, match="no field"):
        extra["anything"] = 1


def test_record_pickles_with_its_enums() -> None:
    record = SeriesRecord(input="a", files=["f"], kind=SourceKind.NIFTI, role=VolumeRole.TRACE)
    again = pickle.loads(pickle.dumps(record))
    assert again == record and again.kind == "nifti" and again.role is VolumeRole.TRACE
