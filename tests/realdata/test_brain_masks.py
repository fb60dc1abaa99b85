"""Brain masks on real heads against independent references (issue 15, acceptance 1, 2, 4).

* GE head CT (``dcm_qa_ct/In/GE``): the shipped mask (bone enclosure, deep core, geodesic
  growth) against a reference computed here by another method: the 0-100 HU region grown
  in 3-D from its largest eroded component (no bone, no rays, no distance transform).
  The series is acquired in two segments (thin posterior fossa, thick cerebrum) that
  ingest may give as two stacks: every stack found is resampled onto one 1 mm grid
  (RAS) and the seam between the segments filled from the nearest acquired voxel.
* United Imaging 3D T1 (``dcm_qa_uih``): the shipped mask (ICBM152 template registered,
  refined by intensity) against BET, as reimplemented by ``brainextractor`` (a deformable
  surface: another method), run on the neck-cropped image at 1 mm.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from imaging_triage.ingest import Status, load, scan
from imaging_triage.preprocess.base import Sample
from imaging_triage.preprocess.bias_field import N4BiasCorrection
from imaging_triage.preprocess.ct_brain_mask import CTBrainMask
from imaging_triage.preprocess.mr_brain_mask import MRBrainMask
from imaging_triage.preprocess.normalize import ZScoreNormalize
from imaging_triage.preprocess.qc import Verdict, assess
from imaging_triage.preprocess.reorient import Reorient
from imaging_triage.preprocess.resample import Interpolation, Resample, resample_array
from imaging_triage.volume import Volume

GE = "dcm_qa_ct/In/GE"
UIH = "dcm_qa_uih/In"


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())


def merge_stacks(volumes: list[Volume], spacing: float = 1.0) -> Volume:
    """Every stack on one axis-aligned RAS grid; the thinnest slices win where they overlap."""
    corners = []
    for v in volumes:
        n = np.array(v.shape[:3]) - 1
        for c in np.array(np.meshgrid(*[[0, m] for m in n])).reshape(3, -1).T:
            corners.append(v.world(c))
    lo, hi = np.min(corners, axis=0), np.max(corners, axis=0)
    shape = tuple(int(np.ceil((h - low) / spacing)) + 1 for low, h in zip(lo, hi, strict=True))
    affine = np.diag([spacing, spacing, spacing, 1.0])
    affine[:3, 3] = lo
    out = np.full(shape, -1024.0, dtype=np.float32)
    have = np.zeros(shape, dtype=bool)
    for v in sorted(volumes, key=lambda v: v.spacing[2]):
        data = np.asarray(v.data, dtype=np.float32)
        values = resample_array(data, v.affine, shape, affine, Interpolation.LINEAR, -1500.0)
        acquired = (data > -1400).astype(np.float32)  # tilt correction pads with -1500
        inside = resample_array(acquired, v.affine, shape, affine, Interpolation.LINEAR, 0.0)
        new = (inside > 0.999) & ~have
        out[new] = values[new]
        have |= new
    along_z = np.zeros((1, 1, 21), dtype=bool)
    along_z[0, 0, :] = True
    seam = ~have & ndimage.binary_closing(have, structure=along_z)
    nearest = ndimage.distance_transform_edt(~have, return_distances=False, return_indices=True)
    out[seam] = out[tuple(i[seam] for i in nearest)]
    return Volume(out, affine, volumes[0].info)


def hu_region_reference(hu: np.ndarray) -> np.ndarray:
    """The independent CT reference: 0-100 HU grown in 3-D, 3-voxel opening, holes filled."""
    soft = (hu >= 0) & (hu <= 100)
    ball = ndimage.generate_binary_structure(3, 1)
    eroded = ndimage.binary_erosion(soft, ball, iterations=3)
    labels, _ = ndimage.label(eroded)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    core = labels == int(np.argmax(sizes))
    grown = ndimage.binary_dilation(core, ball, iterations=3) & soft
    return np.asarray(ndimage.binary_fill_holes(grown) & (hu <= 150), dtype=bool)


@pytest.fixture(scope="module")
def ge_head(realdata: Path) -> Volume:
    records = [r for r in scan(realdata / GE).series if r.status is Status.OK]
    volumes = [v for r in records for v in load(r)]
    assert volumes and all(v.info.hounsfield for v in volumes)
    return merge_stacks(volumes)


@pytest.mark.realdata
def test_ge_ct_intracranial_mask_against_hu_region_reference(ge_head: Volume) -> None:
    hu = np.asarray(ge_head.data)
    mask = CTBrainMask().mask(hu, ge_head.spacing)
    reference = hu_region_reference(hu)
    volume_ml = float(mask.sum()) / 1000.0  # 1 mm grid
    assert 1250.0 <= volume_ml <= 1750.0, f"{volume_ml:.0f} ml"
    assert dice(mask, reference) >= 0.95
    assert float(hu[mask].max()) <= 150.0
    assert assess(mask, ge_head, "ct").verdict is Verdict.PASS

    # posterior fossa: the reference below the level of the tentorium, behind the clivus.
    # The tentorium is placed 45 mm above the foramen magnum, the lowest level where the
    # reference is wider than the spinal canal (10 cm^2)
    area = reference.sum(axis=(0, 1))
    magnum = int(np.nonzero(area >= 1000)[0][0])
    tentorium = magnum + 45
    y = np.arange(hu.shape[1])[None, :, None]
    centre_y = float(np.nonzero(reference)[1].mean())
    fossa = reference.copy()
    fossa[:, :, tentorium:] = False
    fossa &= y < centre_y
    assert fossa.sum() / 1000.0 > 60.0  # a real posterior fossa, not a sliver
    kept = float((mask & fossa).sum()) / float(fossa.sum())
    assert kept >= 0.95, f"{kept:.1%} of the posterior fossa in the mask"


@pytest.mark.realdata
def test_ge_head_moved_by_a_known_turn_and_shift_registers_back(ge_head: Volume) -> None:
    """The rigid registration of the follow-up pass on real anatomy (skull base, tilt
    corrected, two segments joined): the head turned by 3-6 degrees and shifted 6 mm."""
    import SimpleITK as sitk

    from imaging_triage.preprocess.registration import register_rigid
    from imaging_triage.volume import to_sitk

    head = to_sitk(Volume(np.asarray(ge_head.data, np.float32), ge_head.affine, ge_head.info))
    known = sitk.Euler3DTransform()
    known.SetCenter(head.TransformContinuousIndexToPhysicalPoint([n / 2 for n in head.GetSize()]))
    known.SetRotation(np.radians(4.0), np.radians(-3.0), np.radians(6.0))
    known.SetTranslation((3.0, -5.0, 2.0))
    moved = sitk.Resample(head, head, known.GetInverse(), sitk.sitkLinear, -1000.0)
    found = register_rigid(head, moved)
    inside = np.argwhere(sitk.GetArrayViewFromImage(head)[::6, ::6, ::6] > -100)[:, ::-1] * 6
    points = [head.TransformIndexToPhysicalPoint([int(v) for v in p]) for p in inside]
    error = [
        np.linalg.norm(np.subtract(found.TransformPoint(p), known.TransformPoint(p)))
        for p in points
    ]
    assert float(np.mean(error)) < 1.0 and float(np.max(error)) < 2.0


def _uih_t1(realdata: Path) -> Volume:
    (record,) = [r for r in scan(realdata / UIH).series if r.status is Status.OK]
    (volume,) = load(record)
    return volume


def _neck_crop(vol: Volume, height_mm: float = 180.0) -> Volume:
    """The top ``height_mm`` of a RAS 1 mm head (vertex: top slice with 2 cm^2 of tissue)."""
    data = np.asarray(vol.data)
    rows = np.nonzero((data > 0.1 * np.percentile(data, 99)).sum(axis=(0, 1)) > 200)[0]
    top = int(rows.max())
    bottom = max(0, top - round(height_mm / vol.spacing[2]))
    affine = vol.affine.copy()
    affine[:3, 3] = vol.world([0, 0, bottom])
    return Volume(np.ascontiguousarray(data[:, :, bottom : top + 1]), affine, vol.info)


@pytest.mark.realdata
@pytest.mark.slow
def test_uih_t1_brain_mask_against_bet(realdata: Path, tmp_path: Path) -> None:
    pytest.importorskip("brainextractor", reason="BET reference needs `pip install brainextractor`")
    import nibabel as nib
    from brainextractor import BrainExtractor

    from imaging_triage.volume import save_nifti

    sample = Resample(spacing_mm=(1.0, 1.0, 1.0))(Reorient()(Sample(image=_uih_t1(realdata))))
    head = _neck_crop(sample.image)
    out = MRBrainMask()(Sample(image=head))
    assert out.mask is not None
    save_nifti(head, tmp_path / "t1.nii.gz")
    bet = BrainExtractor(nib.load(str(tmp_path / "t1.nii.gz")))
    bet.run()
    bet.save_mask(str(tmp_path / "bet.nii.gz"))
    reference = np.asarray(nib.load(str(tmp_path / "bet.nii.gz")).dataobj) > 0
    volume_ml = float(out.mask.sum()) / 1000.0
    assert 1100.0 <= volume_ml <= 1600.0, f"{volume_ml:.0f} ml"
    assert dice(out.mask, reference) >= 0.92
    assert assess(out.mask, head, "mr").verdict is Verdict.PASS

    # normalisation keeps CSF off the floor: dark voxels of the brain (CSF) are not
    # flattened onto the value of air and bone
    z = ZScoreNormalize()(out).image.data
    brain = z[out.mask]
    csf = brain < np.percentile(brain, 10)
    at_floor = float((brain[csf] <= z.min() + 1e-6).mean())
    print(f"in-brain CSF voxels at the normalisation floor: {at_floor:.2%}")
    assert at_floor < 0.02


def white_matter_nonuniformity(data: np.ndarray, mask: np.ndarray) -> tuple[float, float, float]:
    """Residual bias across the white matter along each axis (fraction of its mean).

    White matter: mask voxels above the brain's Otsu threshold (T1), eroded by two voxels.
    Per axis, the straight line fitted to white-matter intensity against position, its
    change over the central 90% of the white matter's extent, over the mean intensity:
    the smooth (bias-field) part of the non-uniformity, not the anatomy of the tracts.
    """
    from imaging_triage.preprocess.mr_brain_mask import otsu_threshold

    wm = mask & (data > otsu_threshold(data[mask]))
    wm = ndimage.binary_erosion(wm, iterations=2)
    where = np.nonzero(wm)
    values = data[wm].astype(np.float64)
    out = []
    for axis in range(3):
        x = where[axis].astype(np.float64)
        slope = float(np.polyfit(x, values, 1)[0])
        extent = float(np.percentile(x, 95) - np.percentile(x, 5))
        out.append(abs(slope) * extent / float(values.mean()))
    return out[0], out[1], out[2]


@pytest.mark.realdata
@pytest.mark.slow
def test_n4_flattens_white_matter_of_real_t1(realdata: Path) -> None:
    native = Reorient()(Sample(image=_uih_t1(realdata)))
    corrected = N4BiasCorrection()(native)
    to_1mm = Resample(spacing_mm=(1.0, 1.0, 1.0))
    after = _neck_crop(to_1mm(corrected).image)
    grid = to_1mm(native).image
    bottom = round(float(np.linalg.solve(grid.affine, after.affine[:, 3])[2]))
    before = grid.data[:, :, bottom : bottom + after.shape[2]]
    mask = MRBrainMask()(Sample(image=after)).mask
    assert mask is not None
    nu_before = white_matter_nonuniformity(np.asarray(before), mask)
    nu_after = white_matter_nonuniformity(np.asarray(after.data), mask)
    print("WM non-uniformity L-R/P-A/I-S before N4: " + "/".join(f"{v:.1%}" for v in nu_before))
    print("WM non-uniformity L-R/P-A/I-S after N4:  " + "/".join(f"{v:.1%}" for v in nu_after))
    assert max(nu_after) <= 0.05
