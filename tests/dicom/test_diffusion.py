"""Diffusion: trace/ADC images split into their own volumes, b-values and directions
(issue 10, acceptance 4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicomgen import SeriesSpec, make_dataset, write_dwi
from refcompare import bvec_world

from imaging_triage.dicom import diffusion
from imaging_triage.ingest import Status, VolumeRole, load, scan

PHILIPS_DTI = "dcm_qa_philips/In/Vanderbilt_2018/601_WIP_dti_ax"
REF = "dcm_qa_philips/Ref/WIP_dti_ax_601"


@pytest.mark.realdata
def test_philips_dti_matches_dcm2niix_and_keeps_the_trace_apart(realdata: Path) -> None:
    records = scan(realdata / PHILIPS_DTI).series
    by_role = {r.role: r for r in records}
    assert set(by_role) == {VolumeRole.DIFFUSION, VolumeRole.TRACE}
    assert all(r.status is Status.OK for r in records)
    assert by_role[VolumeRole.TRACE].stack_label == "trace"
    (dwi,) = load(by_role[VolumeRole.DIFFUSION])
    (trace,) = load(by_role[VolumeRole.TRACE])
    assert dwi.shape == (80, 80, 40, 16) and trace.shape == (80, 80, 40)
    assert trace.info.acquisition["DiffusionImage"] == "trace"
    assert trace.info.acquisition["DiffusionBValue"] == 2000.0
    ref_bval = np.loadtxt(realdata / f"{REF}.bval")
    ref_bvec = np.loadtxt(realdata / f"{REF}.bvec")
    np.testing.assert_array_equal(dwi.info.acquisition[diffusion.BVALS_KEY], ref_bval)
    ours = np.array(dwi.info.acquisition[diffusion.BVECS_KEY])
    # dcm2niix stores the rows of a DICOM image bottom-up (its j axis is our -j): compare
    # the directions in the world, each through its own voxel frame
    theirs_affine = dwi.affine.copy()
    theirs_affine[:3, 1] *= -1
    np.testing.assert_allclose(
        bvec_world(ours, dwi.affine), bvec_world(ref_bvec, theirs_affine), atol=1e-4
    )
    bval, bvec = diffusion.bval_bvec_text(dwi.info.acquisition) or ("", "")
    assert bval.split() == [f"{b:g}" for b in ref_bval]
    assert len(bvec.splitlines()) == 3


def test_generated_dwi_trace_and_adc_become_three_volumes(tmp_path: Path) -> None:
    spec = SeriesSpec(n=5, rows=8, cols=7, modality="MR", intercept=0.0)
    encodings = [(0.0, (0, 0, 0)), (1000.0, (1, 0, 0)), (1000.0, (0, 1, 0)), (1000.0, (0, 0, 0))]
    write_dwi(tmp_path, spec, encodings)
    for k in range(spec.n):  # the ADC map, a derived image of the same series
        ds = make_dataset(spec, k, instance=100 + k)
        ds.ImageType = ["DERIVED", "PRIMARY", "ADC"]
        pydicom.dcmwrite(tmp_path / f"ADC{k}", ds, enforce_file_format=True)
    records = {r.role: r for r in scan(tmp_path).series}
    assert set(records) == {VolumeRole.DIFFUSION, VolumeRole.TRACE, VolumeRole.ADC}
    assert all(r.status is Status.OK for r in records.values())
    assert records[VolumeRole.DIFFUSION].shape == (7, 8, 5, 3)
    (dwi,) = load(records[VolumeRole.DIFFUSION])
    assert dwi.info.acquisition[diffusion.BVALS_KEY] == [0.0, 1000.0, 1000.0]
    (adc,) = load(records[VolumeRole.ADC])
    assert adc.info.acquisition["DiffusionImage"] == "adc"


@pytest.mark.parametrize(
    ("b", "g", "direction", "types", "expected"),
    [
        (1000.0, (0.0, 0.0, 0.0), "", (), VolumeRole.TRACE),
        (1000.0, (0.0, 0.0, 0.0), "ISOTROPIC", (), VolumeRole.TRACE),
        (0.0, (0.0, 0.0, 0.0), "NONE", (), VolumeRole.DIFFUSION),
        (1000.0, (0.0, 0.0, 1.0), "DIRECTIONAL", (), VolumeRole.DIFFUSION),
        (None, None, "", ("DERIVED", "PRIMARY", "EADC"), VolumeRole.EADC),
        (None, None, "", ("ORIGINAL", "PRIMARY", "M"), VolumeRole.IMAGE),
    ],
)
def test_role(b, g, direction, types, expected) -> None:  # type: ignore[no-untyped-def]
    assert diffusion.role(b, g, direction, types) is expected


def test_anatomical_images_with_b0_tags_are_plain_images(tmp_path: Path) -> None:
    """Philips writes DiffusionBValue 0 on every image: that alone is not diffusion."""
    spec = SeriesSpec(n=5, rows=8, cols=7, modality="MR", intercept=0.0)
    write_dwi(tmp_path, spec, [(0.0, (0, 0, 0))])
    (record,) = scan(tmp_path).series
    assert record.status is Status.OK and record.role is VolumeRole.IMAGE
    assert "DiffusionImage" not in load(record)[0].info.acquisition
