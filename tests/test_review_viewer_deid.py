"""Review of the review store, viewer geometry, data roots and de-identification.

Tests marked ``xfail(strict=True)`` demonstrate a confirmed bug (the reason says which);
they start failing (XPASS -> error) once the bug is fixed, so remove the mark then.
The others pin behaviour that was checked and found correct.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicomgen import SeriesSpec, write_series
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from imaging_triage.dicom.deid import DeidConfig, FileStatus, deidentify_tree
from imaging_triage.errors import PathOutsideRootError, TriageError
from imaging_triage.ingest import SeriesRecord, load
from imaging_triage.review.export import collect_rows
from imaging_triage.review.findings import (
    Finding,
    FindingType,
    Laterality,
    Location,
    ReviewStatus,
    laterality_from_x,
)
from imaging_triage.review.store import ReviewStore
from imaging_triage.roots import DataRoots
from imaging_triage.viewer.hanging import default_series
from imaging_triage.viewer.loader import open_series
from imaging_triage.viewer.planes import Plane, pixel_to_voxel, slice_array, voxel_to_pixel
from imaging_triage.viewer.window import PRESET_WINDOWS, Preset, Window, apply_window
from imaging_triage.viewer.worklist import find_studies

KEY = b"review test key, kept apart"
CANARY = b"QZXREVIEWCANARY"


# -- helpers ------------------------------------------------------------------------------


def _ct_slice(
    *,
    study: str | None = None,
    series: str | None = None,
    bits_stored: int = 16,
) -> Dataset:
    """A minimal, valid 4x4 CT slice with file meta."""
    uid = generate_uid()
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = uid
    ds.StudyInstanceUID = study or generate_uid()
    ds.SeriesInstanceUID = series or generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.Modality = "CT"
    ds.PatientName = "DOE^JOHN"
    ds.Rows = ds.Columns = 4
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    ds.ImagePositionPatient = [0, 0, 0]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [1, 1]
    ds.PixelData = np.zeros((4, 4), np.uint16).tobytes()
    return ds


def _deid(src: Path, tmp_path: Path, **kw: object) -> tuple[Path, list[FileStatus]]:
    out = tmp_path / "out"
    report = deidentify_tree(src, out, DeidConfig(key=KEY, **kw), map_path=tmp_path / "map.json")  # type: ignore[arg-type]
    return out, [o.status for o in report.outcomes]


def _outputs(out: Path) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(p) for p in sorted(out.rglob("*.dcm"))]


# -- de-identification --------------------------------------------------------------------


def test_deid_file_preamble_carries_no_identifier(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    ds = _ct_slice()
    ds.preamble = (CANARY + b" DOE^JOHN MRN 12345").ljust(128, b"\0")
    ds.save_as(src / "a.dcm", enforce_file_format=True)
    assert CANARY in (src / "a.dcm").read_bytes()
    out, statuses = _deid(src, tmp_path)
    assert statuses == [FileStatus.WRITTEN]
    data = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    assert CANARY not in data


def test_deid_embedded_overlay_bits_do_not_survive(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    ds = _ct_slice(bits_stored=12)
    ds.add_new(0x60000010, "US", 4)  # OverlayRows
    ds.add_new(0x60000011, "US", 4)  # OverlayColumns
    ds.add_new(0x60000040, "CS", "G")  # OverlayType
    ds.add_new(0x60000050, "SS", [1, 1])  # OverlayOrigin
    ds.add_new(0x60000100, "US", 16)  # OverlayBitsAllocated: embedded in the pixel words
    ds.add_new(0x60000102, "US", 12)  # OverlayBitPosition
    pixels = np.full((4, 4), 100, np.uint16)
    pixels[1, 1:3] |= 1 << 12  # a stroke of overlay "text"
    ds.PixelData = pixels.tobytes()
    ds.save_as(src / "a.dcm", enforce_file_format=True)
    out, statuses = _deid(src, tmp_path)
    assert statuses == [FileStatus.WRITTEN]
    (result,) = _outputs(out)
    assert not any(e.tag.group & 0xFF00 == 0x6000 for e in result)  # the plane is gone
    words = np.frombuffer(result.PixelData, np.uint16)
    assert int(words.max()) < (1 << 12), "overlay bits above HighBit are still in PixelData"


def test_deid_nested_references_and_file_meta_consistent(tmp_path: Path) -> None:
    """References inside sequences map to the same new UIDs as the files they name (a
    NUL-padded copy too); names and private tags deep in unlisted sequences go; the file
    meta is rebuilt (no source AE title) and follows the new SOP Instance UID."""
    src = tmp_path / "in"
    src.mkdir()
    a = _ct_slice()
    b = _ct_slice(study=a.StudyInstanceUID)
    ref = Dataset()
    ref.ReferencedSOPClassUID = CTImageStorage
    ref.ReferencedSOPInstanceUID = a.SOPInstanceUID + "\0"
    b.SourceImageSequence = Sequence([ref])
    series_ref = Dataset()
    series_ref.SeriesInstanceUID = a.SeriesInstanceUID
    b.ReferencedSeriesSequence = Sequence([series_ref])
    deep = Dataset()
    deep.PatientName = CANARY.decode() + "DEEP"
    deep.add_new(0x00091010, "LO", CANARY.decode() + "PRIV")
    deep.add_new(0x00091001, "DA", "19770707")
    middle = Dataset()
    middle.add_new(0x00189346, "SQ", Sequence([deep]))
    b.add_new(0x00189321, "SQ", Sequence([middle]))  # CT Exposure Sequence: not in the table
    b.file_meta.SourceApplicationEntityTitle = CANARY.decode()[:16]
    a.save_as(src / "a.dcm", enforce_file_format=True)
    b.save_as(src / "b.dcm", enforce_file_format=True)

    out, statuses = _deid(src, tmp_path)
    assert statuses == [FileStatus.WRITTEN, FileStatus.WRITTEN]
    data = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    assert CANARY not in data
    assert b"DOE^JOHN" not in data
    by_ref = {"SourceImageSequence" in d: d for d in _outputs(out)}
    new_a, new_b = by_ref[False], by_ref[True]
    assert new_b.SourceImageSequence[0].ReferencedSOPInstanceUID == new_a.SOPInstanceUID
    assert new_b.ReferencedSeriesSequence[0].SeriesInstanceUID == new_a.SeriesInstanceUID
    assert new_a.SOPInstanceUID != a.SOPInstanceUID
    for d in (new_a, new_b):
        assert d.file_meta.MediaStorageSOPInstanceUID == d.SOPInstanceUID
        assert "SourceApplicationEntityTitle" not in d.file_meta
        assert d.PatientIdentityRemoved == "YES"


def test_deid_burned_in_quarantined_and_secondary_capture(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    burned = _ct_slice()
    burned.BurnedInAnnotation = "yes "
    burned.save_as(src / "a.dcm", enforce_file_format=True)
    shot = _ct_slice()
    shot.ImageType = ["DERIVED", "SECONDARY", "SCREEN SAVE"]
    shot.save_as(src / "b.dcm", enforce_file_format=True)
    out, statuses = _deid(src, tmp_path)
    assert statuses == [FileStatus.QUARANTINED, FileStatus.QUARANTINED]
    assert not list(out.rglob("*.dcm"))


# -- review store -------------------------------------------------------------------------


def _store_with_rows(tmp_path: Path) -> ReviewStore:
    store = ReviewStore(tmp_path / "r.sqlite")
    finding = store.add_finding(
        Finding(
            study_key="study_a",
            type=FindingType.SDH,
            location=Location((10.0, 2.0, 3.0), (1, 2, 3), "1.2.3"),
            laterality=Laterality.RIGHT,
            note="crescent",
            reviewer="dr a",
        )
    )
    assert finding.id is not None
    store.retract_finding(finding.id, reviewer="dr a", reason="artefact")
    return store


#: one row per append-only table, overwritten in place with INSERT OR REPLACE on id 1
_REPLACE = {
    "audit": "INSERT OR REPLACE INTO audit (id, at, reviewer, action, entity, entity_id,"
    " study_key) VALUES (1, 'x', 'mallory', 'none', 'none', 0, 'study_a')",
    "findings": "INSERT OR REPLACE INTO findings (id, study_key, type, laterality, confidence,"
    " x_mm, y_mm, z_mm, i, j, k, reviewer, created_at)"
    " VALUES (1, 'study_a', 'edh', 'left', 'definite', 0, 0, 0, 0, 0, 0, 'mallory', 'x')",
    "study_status": "INSERT OR REPLACE INTO study_status (id, study_key, status, reviewer,"
    " created_at) VALUES (1, 'study_a', 'unread', 'mallory', 'x')",
    "retractions": "INSERT OR REPLACE INTO retractions (id, finding_id, reviewer, created_at)"
    " VALUES (1, 1, 'mallory', 'x')",
}


@pytest.mark.parametrize("table", list(_REPLACE))
def test_store_append_only_rows_cannot_be_replaced(tmp_path: Path, table: str) -> None:
    store = _store_with_rows(tmp_path)
    before = dict(store._conn().execute(f"SELECT * FROM {table} WHERE id = 1").fetchone())
    with store, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store._conn().execute(_REPLACE[table])
    # a plain UPDATE and DELETE are refused (checked correct): the row must be untouched
    after = dict(store._conn().execute(f"SELECT * FROM {table} WHERE id = 1").fetchone())
    assert after == before


@pytest.mark.parametrize("table", list(_REPLACE))
def test_store_update_and_delete_refused(tmp_path: Path, table: str) -> None:
    store = _store_with_rows(tmp_path)
    conn = store._conn()
    for sql in (f"UPDATE {table} SET reviewer = 'x'", f"DELETE FROM {table}"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(sql)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    store.close()


def test_store_survives_reopen_and_latest_status_wins(tmp_path: Path) -> None:
    store = _store_with_rows(tmp_path)
    store.close()
    with ReviewStore(tmp_path / "r.sqlite") as again:
        review = again.review("study_a")
        assert review.status is ReviewStatus.IN_PROGRESS
        assert [f.retracted for f in review.findings] == [True]
        actions = [row["action"] for row in again.audit("study_a")]
        assert actions == ["study.register", "finding.add", "study.status", "finding.retract"]
        assert again.integrity_check() == "ok"


def test_default_export_carries_no_uid_or_source_folder(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "r.sqlite")
    # the viewer registers a study before its first finding (the first registration is kept)
    store.register_study("study_a", study_uid="1.2.840.99.7", source="data/DOE_JOHN_12345")
    store.close()
    store = _store_with_rows(tmp_path)
    rows = collect_rows(store)
    text = repr(rows)
    assert "DOE_JOHN" not in text
    assert "1.2.840.99.7" not in text
    assert "1.2.3" not in {str(r.get("series")) for r in rows}
    identified = repr(collect_rows(store, identified=True))
    assert "DOE_JOHN" in identified and "1.2.840.99.7" in identified
    store.close()


# -- data roots ---------------------------------------------------------------------------


@pytest.fixture()
def roots_tree(tmp_path: Path) -> Path:
    (tmp_path / "data" / "ct").mkdir(parents=True)
    (tmp_path / "data2" / "other").mkdir(parents=True)
    os.symlink(tmp_path / "data2", tmp_path / "data" / "sibling")
    os.symlink(tmp_path / "data" / "loop", tmp_path / "data" / "loop")
    return tmp_path


@pytest.mark.parametrize(
    "user_path",
    ["../data2", "../data2/other", "ct/../../data2", "sibling", "sibling/other", "{tmp}/data2"],
)
def test_roots_prefix_sibling_refused(roots_tree: Path, user_path: str) -> None:
    """``/x/data2`` is not inside ``/x/data`` (no string-prefix comparison)."""
    roots = DataRoots.from_paths([roots_tree / "data"])
    with pytest.raises(PathOutsideRootError):
        roots.resolve(user_path.format(tmp=roots_tree))


@pytest.mark.parametrize("user_path", ["loop", "loop/x", "~nosuchuser_qzx/ct"])
def test_roots_unresolvable_paths_give_a_typed_error(roots_tree: Path, user_path: str) -> None:
    roots = DataRoots.from_paths([roots_tree / "data"])
    with pytest.raises(TriageError):
        roots.resolve(user_path)


def _axial_series(folder: Path, **kw: object) -> SeriesSpec:
    """An axial CT series with a bright block on the patient's left (LPS x > 10 mm)."""

    def values(lps: np.ndarray) -> np.ndarray:
        return np.where(lps[..., 0] > 10.0, 1000.0, 0.0)

    spec = SeriesSpec(
        n=10,
        rows=24,
        cols=30,
        pixel_spacing=(1.0, 1.5),
        step=4.0,
        values=values,
        **{"origin": (-20.0, -15.0, -20.0), **kw},  # type: ignore[arg-type]
    )
    write_series(folder, spec)
    return spec


def test_worklist_ignores_files_linked_from_outside_the_roots(tmp_path: Path) -> None:
    outside = tmp_path / "other_patients" / "s1"
    _axial_series(outside)
    root = tmp_path / "data"
    (root / "linked").mkdir(parents=True)
    for f in sorted(outside.iterdir()):
        os.symlink(f, root / "linked" / f.name)
    studies = find_studies(DataRoots.from_paths([root]))
    assert studies == []


# -- viewer: orientation, aspect ratio, crosshair/voxel/RAS ----------------------------------


@pytest.mark.parametrize("orientation", ["axial", "coronal", "sagittal"])
def test_dicom_patient_left_is_screen_right_whatever_the_acquisition(
    tmp_path: Path, orientation: str
) -> None:
    """From DICOM (LPS) files through ingest and the display volume: the patient's left is
    on the screen's right in axial and coronal views, and the letters say R on the left."""
    # slices of a sagittal series advance towards the patient's right (LPS -x): start at +20
    origin = (20.0, -15.0, -20.0) if orientation == "sagittal" else (-20.0, -15.0, -20.0)
    _axial_series(tmp_path / "data" / "s1", orientation=orientation, origin=origin)
    (study,) = find_studies(DataRoots.from_paths([tmp_path / "data"]))
    opened = open_series(study.usable[0])
    dv = opened.volume
    assert opened.is_ct
    for plane in (Plane.AXIAL, Plane.CORONAL):
        assert plane.labels["left"] == "R" and plane.labels["right"] == "L"
        index = dv.n_slices(plane) // 2
        image = slice_array(dv, plane, index)
        rows, cols = np.nonzero(image > 500.0)
        assert cols.size > 0, f"{orientation}: no bright voxel in the {plane.value} view"
        # bright block: LPS x > 10 mm = the patient's left; the rest of the image is dark
        assert cols.min() > image.shape[1] / 2, f"{orientation}/{plane.value}: on screen left"
        # every screen column is bright exactly when its voxels lie beyond RAS x = -10 mm
        for col in range(image.shape[1]):
            x = dv.world(pixel_to_voxel(dv, plane, index, 0, col))[0]
            assert bool(image[:, col].max() > 500.0) == (x < -10.0), (plane.value, col, x)
    # the crosshair read-out: world coordinates of the clicked voxel are RAS (x < 0 = left)
    index = dv.n_slices(Plane.AXIAL) // 2
    rows, cols = np.nonzero(slice_array(dv, Plane.AXIAL, index) > 500.0)
    ijk = pixel_to_voxel(dv, Plane.AXIAL, index, int(rows.mean()), int(cols.mean()))
    x, _y, _z = dv.world(ijk)
    assert x < -10.0
    assert dv.value(ijk) == pytest.approx(1000.0)
    assert laterality_from_x(x - dv.world(dv.center())[0]) is Laterality.LEFT


def test_dicom_world_and_voxel_read_out_match_the_dicom_geometry(tmp_path: Path) -> None:
    """The RAS mm shown for a voxel is the DICOM pixel centre with x and y negated, and the
    source voxel index points at the same value in the loaded array."""
    spec = _axial_series(tmp_path / "data" / "s1")
    (study,) = find_studies(DataRoots.from_paths([tmp_path / "data"]))
    dv = open_series(study.usable[0]).volume
    ds = pydicom.dcmread(sorted((tmp_path / "data" / "s1").iterdir())[3])
    position = np.asarray(ds.ImagePositionPatient, float)
    row_spacing, col_spacing = (float(v) for v in ds.PixelSpacing)
    r, c = 5, 7  # a pixel of that file: LPS = position + c * dx * rowcos + r * dy * colcos
    lps = position + c * col_spacing * np.array([1, 0, 0]) + r * row_spacing * np.array([0, 1, 0])
    ras = (-lps[0], -lps[1], lps[2])
    ijk = dv.from_world(ras)
    assert dv.world(ijk) == pytest.approx(ras, abs=1e-4)
    stored = ds.pixel_array[r, c] * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert dv.value(ijk) == pytest.approx(stored)
    src = dv.source_index(ijk)
    (loaded, *_rest) = load(study.usable[0])
    assert float(loaded.data[src]) == pytest.approx(stored)
    assert loaded.affine[:3, :3] @ np.asarray(src) + loaded.affine[:3, 3] == pytest.approx(ras)
    # aspect: the image's pixels times their size in mm are the DICOM field of view
    width_mm = spec.cols * spec.pixel_spacing[1]
    height_mm = spec.rows * spec.pixel_spacing[0]
    expected_mm = {
        Plane.AXIAL: (height_mm, width_mm),
        Plane.CORONAL: (spec.n * spec.step, width_mm),
        Plane.SAGITTAL: (spec.n * spec.step, height_mm),
    }
    for plane, size_mm in expected_mm.items():
        rows_n, cols_n = slice_array(dv, plane, ijk[plane.axis]).shape
        row_mm, col_mm = dv.pixel_mm(plane)
        assert (rows_n * row_mm, cols_n * col_mm) == pytest.approx(size_mm, rel=0.02)
    # a click on the crosshair pixel of each view is the voxel back again
    for plane in Plane:
        rows_n, cols_n = slice_array(dv, plane, ijk[plane.axis]).shape
        row, col = voxel_to_pixel(dv, plane, ijk)
        assert 0 <= row < rows_n and 0 <= col < cols_n
        assert pixel_to_voxel(dv, plane, ijk[plane.axis], row, col) == ijk


def test_window_presets_match_design() -> None:
    expected = {
        Preset.BRAIN: (80, 40),
        Preset.SUBDURAL: (200, 75),
        Preset.STROKE: (40, 40),
        Preset.BONE: (2800, 600),
        Preset.SOFT_TISSUE: (400, 40),
    }
    assert {p: (w.width, w.level) for p, w in PRESET_WINDOWS.items()} == expected
    grey = apply_window(
        np.array([-25.0, 75.0, 175.0, np.nan, np.inf, -np.inf]), Preset.SUBDURAL.window
    )
    assert grey.tolist() == [0, 128, 255, 0, 255, 0]
    with pytest.raises(ValueError):
        Window(0.0, 40.0)


# -- the page: a folder typed in the sidebar ------------------------------------------------

APP = Path(__file__).resolve().parents[1] / "app.py"


@pytest.mark.parametrize("typed", ["no_such_folder", "ct_sdh/head.nii.gz"])
def test_page_survives_a_folder_typo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, typed: str
) -> None:
    from streamlit.testing.v1 import AppTest
    from viewer.synthetic_studies import write_study

    data = tmp_path / "data"
    write_study(data)
    monkeypatch.setenv("IMAGING_TRIAGE_DATA", str(data))
    monkeypatch.setenv("IMAGING_TRIAGE_DB", str(tmp_path / "reviews.sqlite"))
    monkeypatch.setenv("HOME", str(tmp_path))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    at.sidebar.text_input(key="folder").input(typed).run()
    assert not at.exception, [e.value for e in at.exception]


# -- hanging protocol -------------------------------------------------------------------------


def _ct_record(description: str, kernel: str, slices: int, number: int) -> SeriesRecord:
    return SeriesRecord(
        input=description,
        files=["unused"],
        key=f"{number}",
        modality="CT",
        description=description,
        series_number=number,
        shape=(512, 512, slices),
        header={"acquisition": {"ConvolutionKernel": kernel}},
    )


@pytest.mark.parametrize(
    ("brain", "bone"),
    [("H31s", "H70h"), ("J40s", "J70h"), ("STANDARD", "BONEPLUS"), ("FC21", "FC30")],
)
def test_hanging_opens_brain_kernel_not_the_thin_bone_series(brain: str, bone: str) -> None:
    records = [_ct_record("Head 5.0", brain, 30, 2), _ct_record("Head 1.0", bone, 150, 3)]
    chosen = default_series(records)
    assert chosen is not None and chosen.series_number == 2


@pytest.mark.parametrize(("brain", "bone"), [("Hr38", "Hr64"), ("Hr40", "Hr68")])
def test_hanging_knows_siemens_hr_kernels(brain: str, bone: str) -> None:
    records = [_ct_record("Head 5.0", brain, 30, 2), _ct_record("Head 1.0", bone, 150, 3)]
    chosen = default_series(records)
    assert chosen is not None and chosen.series_number == 2
