"""Generator of ``sample_data/``: synthetic head CT and MR studies with known findings.

Each study is written as a scanner would send it: real DICOM files (CT Image Storage or
MR Image Storage) with complete patient, study, series, frame-of-reference, equipment and
image-plane modules, a localizer series, and clearly fake identities (``PHANTOM^...``).
The anatomy comes from :mod:`imaging_triage.phantom`, sampled at the true patient
position of every pixel, so geometry (including gantry tilt) is exact by construction.

Beside the DICOM tree, ``ground_truth/<study>/`` holds for each study a ``truth.json``
(findings with the codes of DESIGN.md section 3, laterality, centre in RAS mm, slice
range, expected densities) and one label volume per image series, written with
:func:`imaging_triage.volume.save_nifti`.

Everything is deterministic: UIDs derive from the seed, noise from seeded generators,
dates are fixed. Regenerating with the same seed reproduces the DICOM files byte for
byte (a test checks this).

All studies are synthetic; no real patient is involved. Automated outputs computed on
them are candidates for human review, never a diagnosis.

Examples
--------
>>> from imaging_triage.samples import generate
>>> written = generate("sample_data")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import io
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from imaging_triage.dicom.discover import IGNORE_MARKER
from imaging_triage.phantom import (
    CALCIFICATIONS,
    CSF_SPACES,
    CT_HU,
    INTRACRANIAL,
    PARENCHYMA,
    PETROUS_APICES,
    Crescent,
    Ellipsoid,
    HeadSpec,
    Lesion,
    LesionKind,
    Tissue,
    bias_field,
    classify,
    ct_values,
    mr_values,
)
from imaging_triage.volume import (
    LPS_TO_RAS,
    SeriesInfo,
    Volume,
    atomic_write_bytes,
    atomic_write_json,
    save_nifti,
)

logger = logging.getLogger(__name__)

#: default seed of the committed ``sample_data/``
DEFAULT_SEED = 20240601
#: layout inside the output folder
DICOM_DIR = "dicom"
TRUTH_DIR = "ground_truth"

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
RLE_LOSSLESS = "1.2.840.10008.1.2.5"
#: Deflated Explicit VR Little Endian: lossless, smaller than RLE on noisy CT (the sample
#: budget); reproduced byte for byte by the same zlib, checked by its inflated content
DEFLATED = "1.2.840.10008.1.2.1.99"
IMPLEMENTATION_VERSION = "IMGTRIAGE_010"

#: sub-samples through the slice thickness (partial volume along the slice normal)
THICKNESS_SAMPLES = (-1.0 / 3.0, 0.0, 1.0 / 3.0)


# --- geometry -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StackGeometry:
    """A stack of parallel slices as a scanner positions them (DICOM LPS coordinates).

    The slice plane is tilted by ``tilt_deg`` about the patient's left-right axis while the
    slice centres advance along the table (z), exactly as a CT with gantry tilt writes
    ImageOrientationPatient and ImagePositionPatient.

    Parameters
    ----------
    rows, cols : int
        Matrix size.
    pixel_mm : float
        Square pixel size.
    n_slices : int
        Number of slices.
    first_z : float
        Table position (LPS z, mm) of the first (most inferior) slice centre.
    step_mm : float
        Table increment between slices.
    thickness_mm : float
        Nominal slice thickness.
    tilt_deg : float
        Gantry tilt about the left-right axis (positive: the anterior part of the plane
        is higher).
    centre_ap_mm : float
        LPS y of the reconstruction centre (display field-of-view offset).
    """

    rows: int
    cols: int
    pixel_mm: float
    n_slices: int
    first_z: float
    step_mm: float
    thickness_mm: float
    tilt_deg: float = 0.0
    centre_ap_mm: float = 4.0

    @property
    def row_cosine(self) -> npt.NDArray[np.float64]:
        """Direction of increasing column index (LPS): towards the patient's left."""
        return np.array([1.0, 0.0, 0.0])

    @property
    def col_cosine(self) -> npt.NDArray[np.float64]:
        """Direction of increasing row index (LPS): posterior, tilted about x."""
        t = math.radians(self.tilt_deg)
        return np.array([0.0, math.cos(t), -math.sin(t)])

    @property
    def normal(self) -> npt.NDArray[np.float64]:
        """Unit normal of the slice plane (row x column cosine)."""
        return np.cross(self.row_cosine, self.col_cosine)

    def position(self, k: int) -> npt.NDArray[np.float64]:
        """ImagePositionPatient (LPS mm, centre of the first pixel) of slice ``k``."""
        centre = np.array([0.0, self.centre_ap_mm, self.first_z + k * self.step_mm])
        half_c = (self.cols - 1) / 2.0 * self.pixel_mm
        half_r = (self.rows - 1) / 2.0 * self.pixel_mm
        return centre - half_c * self.row_cosine - half_r * self.col_cosine

    def pixel_points_ras(self, k: int, offset_mm: float = 0.0) -> npt.NDArray[np.float64]:
        """RAS mm of every pixel centre of slice ``k``, shape (rows, cols, 3).

        ``offset_mm`` moves the plane along its normal (to sample through the thickness).
        """
        r = np.arange(self.rows, dtype=np.float64)[:, None, None]
        c = np.arange(self.cols, dtype=np.float64)[None, :, None]
        lps = (
            self.position(k)
            + offset_mm * self.normal
            + c * self.pixel_mm * self.row_cosine
            + r * self.pixel_mm * self.col_cosine
        )
        return lps * np.array([-1.0, -1.0, 1.0])

    def affine_ras(self) -> npt.NDArray[np.float64]:
        """Voxel (i = column, j = row, k = slice) to RAS+ affine of the stack.

        With gantry tilt the third column is the table step, not the slice normal: the
        affine then has shear (this is the acquired grid, before any tilt correction).
        """
        lps = np.eye(4)
        lps[:3, 0] = self.row_cosine * self.pixel_mm
        lps[:3, 1] = self.col_cosine * self.pixel_mm
        lps[:3, 2] = np.array([0.0, 0.0, self.step_mm])
        lps[:3, 3] = self.position(0)
        return LPS_TO_RAS @ lps


# --- studies ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FindingTruth:
    """What the ground truth says about one lesion of a study."""

    lesion: Lesion
    laterality: str
    location: str
    #: expected density range (HU) of the lesion voxels (CT)
    expected_hu: tuple[float, float] | None = None
    #: expected density difference (HU) from the mirrored contralateral region (CT)
    expected_delta_hu: tuple[float, float] | None = None


@dataclass(frozen=True)
class StudySpec:
    """One sample study: its head, its acquisition and its clinical summary."""

    key: str
    title: str
    patient_name: str
    modality: str
    head: HeadSpec
    findings: tuple[FindingTruth, ...]
    outcome: str
    urgency: str
    description: str
    tilt_deg: float = 0.0
    transfer_syntax: str = EXPLICIT_VR_LITTLE_ENDIAN
    signed: bool = False
    modifiers: tuple[dict[str, Any], ...] = ()
    #: the patient's sex and age (synthetic)
    sex: str = "O"
    age_years: int = 50
    #: key of an earlier study of the same patient (same PatientID, PatientName and birth
    #: date): this study is its follow-up, ``follow_up_days`` after it
    follow_up_of: str = ""
    follow_up_days: int = 0
    #: the acquisition grid when not the modality's default (:data:`CT_GEOMETRY`,
    #: :data:`MR_GEOMETRY`); the gantry tilt is ``tilt_deg`` whatever the grid
    geometry: StackGeometry | None = None


SDH = Lesion(
    LesionKind.SDH,
    Crescent(direction=(-1.0, 0.15, 0.45), half_angle_deg=45.0, thickness_mm=9.0),
    occupies=INTRACRANIAL,
    ct_hu=70.0,
)
CONTUSION = Lesion(
    LesionKind.IPH, Ellipsoid((28.0, 36.0, 2.0), (9.0, 10.0, 9.0)), occupies=PARENCHYMA, ct_hu=70.0
)
SAH_CISTERNS = Lesion(
    LesionKind.SAH, Ellipsoid((0.0, -2.0, -16.0), (30.0, 30.0, 11.0)), CSF_SPACES, ct_hu=56.0
)
SAH_SYLVIAN = Lesion(
    LesionKind.SAH, Ellipsoid((42.0, 4.0, -2.0), (24.0, 26.0, 20.0)), CSF_SPACES, ct_hu=52.0
)
INFARCT = Lesion(
    LesionKind.INFARCT,
    Ellipsoid((-38.0, 4.0, 6.0), (25.0, 32.0, 24.0)),
    occupies=frozenset({Tissue.GREY, Tissue.WHITE, Tissue.DEEP_GREY}),
    ct_delta_hu=-8.0,
)
TUMOUR = Lesion(
    LesionKind.MASS,
    Ellipsoid((-30.0, 30.0, 18.0), (15.0, 14.0, 13.0)),
    PARENCHYMA,
    t1=470.0,
    flair=900.0,
)
EDEMA = Lesion(
    LesionKind.EDEMA,
    Ellipsoid((-30.0, 26.0, 14.0), (30.0, 36.0, 28.0)),
    occupies=frozenset({Tissue.WHITE}),
    t1=600.0,
    flair=1100.0,
)
SDH_HEAD = HeadSpec(lesions=(SDH, CONTUSION), midline_shift_mm=4.0, shift_centre=(0.0, 0.0, 20.0))
SDH_FINDINGS = (
    FindingTruth(SDH, "left", "left frontoparietal convexity", expected_hu=(60.0, 80.0)),
    FindingTruth(CONTUSION, "right", "right frontal lobe", expected_hu=(55.0, 80.0)),
)
#: the same hematoma ten days later: thinner and subacute (lower density)
SDH_SUBACUTE = dataclasses.replace(
    SDH,
    shape=Crescent(direction=(-1.0, 0.15, 0.45), half_angle_deg=45.0, thickness_mm=5.0),
    ct_hu=45.0,
)
#: the contusion resolving: smaller and fading towards the density of brain
CONTUSION_RESOLVING = dataclasses.replace(
    CONTUSION,
    shape=Ellipsoid((28.0, 36.0, 2.0), (5.0, 6.0, 5.0)),
    ct_hu=52.0,
)


#: an adult head with its physiological calcifications (pineal, choroid plexus, falx)
CALCIFIED = HeadSpec(calcifications=True)
#: acute epidural hematoma: a small biconvex lens over the right parietal convexity
EDH = Lesion(
    LesionKind.EDH,
    Crescent(direction=(1.0, 0.05, 0.35), half_angle_deg=16.0, thickness_mm=8.0),
    occupies=INTRACRANIAL,
    ct_hu=65.0,
)
#: intraventricular blood layering in the dependent (posterior) lateral ventricles
IVH = Lesion(
    LesionKind.IVH,
    Ellipsoid((0.0, -28.0, 10.0), (24.0, 12.0, 7.0)),
    occupies=frozenset({Tissue.VENTRICLE}),
    ct_hu=60.0,
)
#: amplitude (HU) of the beam-hardening streaks of the mimics study
BEAM_HARDENING_HU = 30.0
#: the grid of the studies added for the candidate checks (08-10): the same field of view
#: and slices as :data:`CT_GEOMETRY` with 1.2 mm pixels (192 x 192), as a 256-matrix scanner
#: reconstructs a large field of view; half the bytes of a 0.9 mm image
CT_GEOMETRY_COARSE = StackGeometry(
    rows=192, cols=192, pixel_mm=1.2, n_slices=28, first_z=-57.5, step_mm=5.0, thickness_mm=5.0
)


def study_specs() -> list[StudySpec]:
    """The sample studies, in order (the order is part of the deterministic output)."""
    return [
        StudySpec(
            key="01_ct_normal",
            title="CT head, normal",
            patient_name="PHANTOM^NORMAL",
            modality="CT",
            head=HeadSpec(),
            findings=(),
            outcome="no_acute_abnormality",
            urgency="routine",
            description="Normal non-contrast head CT: no acute intracranial abnormality.",
            transfer_syntax=DEFLATED,
            sex="F",
            age_years=34,
        ),
        StudySpec(
            key="02_ct_sdh",
            title="CT head, acute left subdural hematoma and right frontal contusion (RLE)",
            patient_name="PHANTOM^SUBDURAL",
            modality="CT",
            head=SDH_HEAD,
            findings=SDH_FINDINGS,
            outcome="secondary_cause_suspected",
            urgency="critical",
            description="Acute subdural hematoma (70 HU) along the left frontoparietal convexity, "
            "up to 9 mm thick, with mild mass effect (midline shift 4 mm to the right); "
            "small contrecoup intraparenchymal hemorrhage (70 HU) in the right frontal lobe.",
            modifiers=(
                {"type": "mass_effect", "laterality": "left"},
                {"type": "midline_shift", "direction": "right", "shift_mm": 4.0},
            ),
            transfer_syntax=RLE_LOSSLESS,
            sex="M",
            age_years=78,
        ),
        StudySpec(
            key="03_ct_sah",
            title="CT head, subtle subarachnoid hemorrhage (Deflated)",
            patient_name="PHANTOM^SUBARACHNOID",
            modality="CT",
            head=HeadSpec(lesions=(SAH_CISTERNS, SAH_SYLVIAN)),
            findings=(
                FindingTruth(SAH_CISTERNS, "midline", "basal cisterns", expected_hu=(40.0, 70.0)),
                FindingTruth(
                    SAH_SYLVIAN,
                    "right",
                    "right Sylvian fissure and sulci",
                    expected_hu=(40.0, 70.0),
                ),
            ),
            outcome="secondary_cause_suspected",
            urgency="critical",
            description="Subtle subarachnoid hemorrhage (52-56 HU, barely above grey matter) "
            "in the basal cisterns and the right Sylvian fissure and sulci. The hard case.",
            transfer_syntax=DEFLATED,
            sex="F",
            age_years=46,
        ),
        StudySpec(
            key="04_ct_infarct",
            title="CT head, acute left MCA territory infarct (Deflated)",
            patient_name="PHANTOM^INFARCT",
            modality="CT",
            head=HeadSpec(lesions=(INFARCT,)),
            findings=(
                FindingTruth(
                    INFARCT,
                    "left",
                    "left middle cerebral artery territory",
                    expected_delta_hu=(-10.0, -5.0),
                ),
            ),
            outcome="secondary_cause_suspected",
            urgency="critical",
            description="Acute ischemic infarct in the left middle cerebral artery territory: "
            "cortex, white matter and lentiform nucleus 8 HU below the mirrored right side.",
            transfer_syntax=DEFLATED,
            sex="M",
            age_years=67,
        ),
        StudySpec(
            key="05_mr_tumor",
            title="MR head T1 and FLAIR, left frontal tumour with oedema and midline shift (RLE)",
            patient_name="PHANTOM^TUMOUR",
            modality="MR",
            head=HeadSpec(
                lesions=(TUMOUR, EDEMA), midline_shift_mm=7.0, shift_centre=(0.0, 20.0, 15.0)
            ),
            findings=(
                FindingTruth(TUMOUR, "left", "left frontal lobe"),
                FindingTruth(EDEMA, "left", "left frontal white matter"),
            ),
            outcome="secondary_cause_suspected",
            urgency="urgent",
            description="Left frontal mass (T1 hypointense, FLAIR hyperintense) with surrounding "
            "vasogenic oedema in the white matter and midline shift of 7 mm to the right.",
            modifiers=(
                {"type": "mass_effect", "laterality": "left"},
                {"type": "midline_shift", "direction": "right", "shift_mm": 7.0},
            ),
            transfer_syntax=RLE_LOSSLESS,
            sex="F",
            age_years=58,
        ),
        StudySpec(
            key="06_ct_tilt_sdh",
            title="CT head with 20 degree gantry tilt: acute left subdural hematoma",
            patient_name="PHANTOM^TILT",
            modality="CT",
            head=SDH_HEAD,
            findings=SDH_FINDINGS,
            outcome="secondary_cause_suspected",
            urgency="critical",
            description="The head of study 02 acquired with a 20 degree gantry tilt (slice planes "
            "tilted about the left-right axis, table stepping along z; signed pixel data). "
            "Loaders must correct the shear.",
            tilt_deg=20.0,
            signed=True,
            modifiers=(
                {"type": "mass_effect", "laterality": "left"},
                {"type": "midline_shift", "direction": "right", "shift_mm": 4.0},
            ),
            sex="M",
            age_years=81,
        ),
        StudySpec(
            key="07_ct_sdh_followup",
            title="CT head, follow-up of 02 after 10 days: subacute left subdural hematoma, "
            "smaller (Deflated)",
            patient_name="PHANTOM^SUBDURAL",
            modality="CT",
            head=HeadSpec(lesions=(SDH_SUBACUTE, CONTUSION_RESOLVING)),
            findings=(
                FindingTruth(
                    SDH_SUBACUTE, "left", "left frontoparietal convexity", expected_hu=(38.0, 55.0)
                ),
                FindingTruth(
                    CONTUSION_RESOLVING, "right", "right frontal lobe", expected_hu=(40.0, 60.0)
                ),
            ),
            outcome="secondary_cause_suspected",
            urgency="urgent",
            description="Follow-up of study 02_ct_sdh (same patient) 10 days later. The left "
            "frontoparietal subdural hematoma is smaller (up to 5 mm thick, from 9 mm) and "
            "subacute (45 HU, from 70 HU: nearly isodense to grey matter); no midline shift "
            "(was 4 mm); the right frontal contusion is resolving (smaller, 52 HU).",
            transfer_syntax=DEFLATED,
            sex="M",
            age_years=78,
            follow_up_of="02_ct_sdh",
            follow_up_days=10,
        ),
        StudySpec(
            key="08_ct_normal_mimics",
            title="CT head, normal, with physiological calcifications and beam hardening",
            patient_name="PHANTOM^MIMICS",
            modality="CT",
            head=dataclasses.replace(CALCIFIED, beam_hardening_hu=BEAM_HARDENING_HU),
            findings=(),
            outcome="no_acute_abnormality",
            urgency="routine",
            description="Normal non-contrast head CT of an adult: dense physiological "
            "calcifications of the pineal gland, both choroid plexus glomera and a falx plaque, "
            "and beam-hardening streaks between the petrous bones. None of these is a finding: "
            "they are the usual mimics of blood.",
            transfer_syntax=DEFLATED,
            geometry=CT_GEOMETRY_COARSE,
            sex="F",
            age_years=62,
        ),
        StudySpec(
            key="09_ct_edh",
            title="CT head, small acute right epidural hematoma",
            patient_name="PHANTOM^EPIDURAL",
            modality="CT",
            head=dataclasses.replace(CALCIFIED, lesions=(EDH,)),
            findings=(
                FindingTruth(EDH, "right", "right parietal convexity", expected_hu=(55.0, 75.0)),
            ),
            outcome="secondary_cause_suspected",
            urgency="critical",
            description="Small acute epidural hematoma (65 HU, biconvex, up to 8 mm thick) over "
            "the right parietal convexity, without midline shift; physiological calcifications "
            "(pineal, choroid plexus, falx) that are not findings.",
            transfer_syntax=DEFLATED,
            geometry=CT_GEOMETRY_COARSE,
            sex="M",
            age_years=23,
        ),
        StudySpec(
            key="10_ct_ivh",
            title="CT head, intraventricular hemorrhage",
            patient_name="PHANTOM^INTRAVENTRICULAR",
            modality="CT",
            head=dataclasses.replace(CALCIFIED, lesions=(IVH,)),
            findings=(
                FindingTruth(
                    IVH,
                    "bilateral",
                    "occipital horns and atria of both lateral ventricles",
                    expected_hu=(45.0, 70.0),
                ),
            ),
            outcome="secondary_cause_suspected",
            urgency="critical",
            description="Intraventricular hemorrhage (60 HU) layering in the occipital horns and "
            "atria of both lateral ventricles, around the calcified choroid plexus glomera "
            "(which are not findings); no hydrocephalus.",
            transfer_syntax=DEFLATED,
            geometry=CT_GEOMETRY_COARSE,
            sex="F",
            age_years=71,
        ),
    ]


def study_date(spec: StudySpec, index: int) -> str:
    """The StudyDate (DICOM DA) of the ``index``-th (1-based) study of :func:`study_specs`.

    Studies fall on successive days of January 2000; a follow-up falls ``follow_up_days``
    after the study it follows, so that the order of a patient's studies is plain.
    """
    if not spec.follow_up_of:
        return f"2000{1 + index // 28:02d}{1 + index % 28:02d}"
    earlier_index, earlier = _study_by_key(spec.follow_up_of)
    base = datetime.datetime.strptime(study_date(earlier, earlier_index), "%Y%m%d")
    return (base + datetime.timedelta(days=spec.follow_up_days)).strftime("%Y%m%d")


def patient_id(spec: StudySpec, index: int) -> str:
    """The PatientID of the ``index``-th study: a follow-up keeps its patient's ID."""
    if spec.follow_up_of:
        index, _ = _study_by_key(spec.follow_up_of)
    return f"PHANTOM-{index:02d}"


def _study_by_key(key: str) -> tuple[int, StudySpec]:
    """The 1-based index and spec of study ``key``."""
    for index, spec in enumerate(study_specs(), start=1):
        if spec.key == key:
            return index, spec
    raise ValueError(f"no sample study {key!r}")


#: axial head CT: 256 x 256 at 0.9 mm, 28 slices of 5 mm from the posterior fossa to the vertex
CT_GEOMETRY = StackGeometry(
    rows=256, cols=256, pixel_mm=0.9, n_slices=28, first_z=-57.5, step_mm=5.0, thickness_mm=5.0
)
#: axial head MR: 192 x 192 at 1.2 mm, 24 slices of 5 mm every 6 mm
MR_GEOMETRY = StackGeometry(
    rows=192, cols=192, pixel_mm=1.2, n_slices=24, first_z=-57.0, step_mm=6.0, thickness_mm=5.0
)
#: CT noise standard deviation (HU), spatially correlated like a soft reconstruction kernel
CT_NOISE_HU = 3.5
#: MR noise standard deviation of each quadrature channel (Rician magnitude)
MR_NOISE = 14.0
#: in-plane point spread function (Gaussian sigma, pixels)
PSF_SIGMA_PX = 0.6


@dataclass
class SeriesPlan:
    """One series to write: its number, description and pixel source."""

    number: int
    description: str
    role: str  # "localizer" or "volume"
    contrast: str = ""  # "T1" or "FLAIR" for MR volumes


# --- pixels -------------------------------------------------------------------------------


def _smooth(image: npt.NDArray[np.float64], sigma: float) -> npt.NDArray[np.float64]:
    from scipy.ndimage import gaussian_filter

    return np.asarray(gaussian_filter(image, sigma, mode="nearest"), dtype=np.float64)


def _correlated_noise(
    rng: np.random.Generator, shape: tuple[int, int], sigma: float
) -> npt.NDArray[np.float64]:
    white = rng.standard_normal(shape)
    smooth = _smooth(white, 0.7)
    return smooth * (sigma / 0.4)  # std of white noise smoothed with sigma 0.7 px is ~0.40


def render_stack(
    spec: StudySpec, geometry: StackGeometry, contrast: str, rng: np.random.Generator
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.uint8]]:
    """Pixel values (HU for CT, signal for MR) and lesion labels of every slice.

    Returns
    -------
    values : numpy.ndarray, shape (n_slices, rows, cols)
        With partial volume through the slice thickness, blur and noise.
    labels : numpy.ndarray of uint8, same shape
        Lesion label (1-based index of ``spec.head.lesions``) at the slice centre.
    """
    values = np.zeros((geometry.n_slices, geometry.rows, geometry.cols))
    labels = np.zeros(values.shape, dtype=np.uint8)
    for k in range(geometry.n_slices):
        acc = np.zeros((geometry.rows, geometry.cols))
        for frac in THICKNESS_SAMPLES:
            points = geometry.pixel_points_ras(k, frac * geometry.thickness_mm)
            tissue, lesion = classify(points, spec.head)
            if spec.modality == "CT":
                acc += ct_values(tissue, lesion, spec.head, points)
            else:
                acc += mr_values(tissue, lesion, spec.head, contrast) * bias_field(points)
            if frac == 0.0:
                labels[k] = lesion
        image = _smooth(acc / len(THICKNESS_SAMPLES), PSF_SIGMA_PX)
        shape = (geometry.rows, geometry.cols)
        if spec.modality == "CT":
            image = image + _correlated_noise(rng, shape, CT_NOISE_HU)
        else:  # magnitude image: Rician noise
            real = image + rng.standard_normal(shape) * MR_NOISE
            imag = rng.standard_normal(shape) * MR_NOISE
            image = np.sqrt(real**2 + imag**2)
        values[k] = image
    return values, labels


def render_ct_scout(
    spec: StudySpec, rows: int = 256, cols: int = 256, pixel_mm: float = 1.0
) -> npt.NDArray[np.uint16]:
    """A lateral CT localizer: attenuation integrated across the head (brighter = denser)."""
    r = np.arange(rows, dtype=np.float64)[:, None]
    c = np.arange(cols, dtype=np.float64)[None, :]
    y_lps = -(cols - 1) / 2.0 * pixel_mm + c * pixel_mm
    z = 70.0 - r * pixel_mm
    total = np.zeros((rows, cols))
    step = 2.0
    for x in np.arange(-82.0, 82.0 + step / 2, step):
        pts = np.stack(np.broadcast_arrays(np.full_like(z, x), -y_lps, z), axis=-1)
        tissue, lesion = classify(pts, spec.head)
        hu = ct_values(tissue, lesion, spec.head)
        total += np.clip(hu + 1000.0, 0.0, None) / 1000.0 * 0.019 * step
    return np.clip(np.round(total * 700.0), 0, 4095).astype(np.uint16)


# --- DICOM --------------------------------------------------------------------------------


def _uid(seed: int, *parts: object) -> str:
    """A deterministic UID under the UUID-derived root ``2.25`` (PS3.5 B.2).

    128 bits of a SHA-256 digest of the seed and ``parts``: the same inputs always give the
    same UID (pydicom's ``generate_uid(prefix=None)`` is random, so it is not used).
    """
    text = "\x1f".join(["imaging_triage.samples", str(seed), *map(str, parts)])
    value = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:16], "big")
    return f"2.25.{value}"


def _ds_number(value: float) -> str:
    """A DS value: at most 16 characters, no exponent noise."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text[:16]


def _base_dataset(spec: StudySpec, index: int, seed: int, plan: SeriesPlan) -> Any:
    from pydicom.dataset import Dataset

    ds = Dataset()
    date = study_date(spec, index)
    # patient
    ds.PatientName = spec.patient_name
    ds.PatientID = patient_id(spec, index)
    ds.PatientBirthDate = f"{2000 - spec.age_years}0101"
    ds.PatientSex = spec.sex
    ds.PatientAge = f"{spec.age_years:03d}Y"
    ds.PatientComments = "Synthetic phantom generated by imaging_triage; not a real patient."
    # study
    ds.StudyInstanceUID = _uid(seed, spec.key, "study")
    ds.StudyDate = date
    ds.StudyTime = f"{8 + index:02d}0000"
    ds.StudyID = f"{index}"
    ds.AccessionNumber = f"SYN{index:05d}"
    ds.ReferringPhysicianName = "SYNTHETIC^REFERRER"
    ds.StudyDescription = (
        "CT HEAD WITHOUT CONTRAST (SYNTHETIC)" if spec.modality == "CT" else "MR BRAIN (SYNTHETIC)"
    )
    # series
    ds.Modality = spec.modality
    ds.SeriesInstanceUID = _uid(seed, spec.key, "series", plan.number)
    ds.SeriesNumber = plan.number
    ds.SeriesDescription = plan.description
    ds.SeriesDate = date
    ds.SeriesTime = f"{8 + index:02d}{plan.number:02d}00"
    ds.BodyPartExamined = "HEAD"
    ds.PatientPosition = "HFS"
    ds.ProtocolName = "HEAD ROUTINE" if spec.modality == "CT" else "BRAIN"
    # frame of reference and equipment
    ds.FrameOfReferenceUID = _uid(seed, spec.key, "frame-of-reference")
    ds.PositionReferenceIndicator = ""
    ds.Manufacturer = "imaging_triage synthetic"
    ds.ManufacturerModelName = "HeadPhantom"
    ds.SoftwareVersions = "imaging_triage samples 1"
    ds.DeviceSerialNumber = "0000"
    ds.StationName = "PHANTOM"
    ds.InstitutionName = "Synthetic Imaging Department"
    return ds


def _finish(
    ds: Any,
    spec: StudySpec,
    seed: int,
    plan: SeriesPlan,
    instance: int,
    pixels: npt.NDArray[Any],
    transfer_syntax: str,
) -> bytes:
    """Add pixel module and file meta, encode, and return the file bytes."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import UID

    sop_class = CT_IMAGE_STORAGE if spec.modality == "CT" else MR_IMAGE_STORAGE
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = _uid(seed, spec.key, "instance", plan.number, instance)
    ds.InstanceNumber = instance
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    ds.BitsAllocated = 16
    ds.BitsStored = 16 if pixels.dtype == np.int16 else 12
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if pixels.dtype == np.int16 else 0
    ds.BurnedInAnnotation = "NO"

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = UID(EXPLICIT_VR_LITTLE_ENDIAN)
    meta.ImplementationClassUID = UID(_uid(0, "implementation", IMPLEMENTATION_VERSION))
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    ds.file_meta = meta
    arr = np.ascontiguousarray(pixels)
    ds.PixelData = arr.tobytes()
    ds["PixelData"].VR = "OW"
    if transfer_syntax == RLE_LOSSLESS:
        ds.compress(RLE_LOSSLESS, arr, encoding_plugin="pydicom", generate_instance_uid=False)
        ds.file_meta.ImplementationClassUID = meta.ImplementationClassUID
        ds.file_meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    elif transfer_syntax == DEFLATED:
        meta.TransferSyntaxUID = UID(DEFLATED)  # pydicom deflates the dataset on writing
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _ds_list(values: npt.ArrayLike) -> list[str]:
    return [_ds_number(float(v)) for v in np.asarray(values, dtype=np.float64).ravel()]


def _plane(
    ds: Any,
    position: npt.NDArray[np.float64],
    row: npt.NDArray[np.float64],
    col: npt.NDArray[np.float64],
    pixel_mm: float,
) -> None:
    ds.ImagePositionPatient = _ds_list(position)
    ds.ImageOrientationPatient = _ds_list([*row, *col])
    ds.PixelSpacing = _ds_list([pixel_mm, pixel_mm])


def _ct_acquisition(ds: Any, fov_mm: float, tilt_deg: float) -> None:
    ds.KVP = "120"
    ds.DataCollectionDiameter = "500"
    ds.ReconstructionDiameter = _ds_number(fov_mm)
    ds.GantryDetectorTilt = _ds_number(tilt_deg)
    ds.TableHeight = "150"
    ds.RotationDirection = "CW"
    ds.ExposureTime = "1000"
    ds.XRayTubeCurrent = 280
    ds.Exposure = 280
    ds.FilterType = "HEAD FILTER"
    ds.ConvolutionKernel = "SOFT"
    ds.FocalSpots = "0.7"


def _mr_acquisition(ds: Any, contrast: str) -> None:
    ds.MRAcquisitionType = "2D"
    ds.MagneticFieldStrength = "1.5"
    ds.ImagingFrequency = "63.87"
    ds.ImagedNucleus = "1H"
    ds.FlipAngle = "90"
    ds.NumberOfAverages = "1"
    ds.EchoNumbers = 1
    ds.PixelBandwidth = "150"
    ds.ReceiveCoilName = "HEAD"
    if contrast == "FLAIR":
        ds.ScanningSequence = ["SE", "IR"]
        ds.SequenceVariant = ["SK", "SP", "MP"]
        ds.ScanOptions = "IR"
        ds.SequenceName = "tir2d1_16"
        ds.RepetitionTime = "9000"
        ds.EchoTime = "90"
        ds.InversionTime = "2500"
        ds.EchoTrainLength = 16
    else:
        ds.ScanningSequence = "SE"
        ds.SequenceVariant = ["SK", "SP"]
        ds.ScanOptions = ""
        ds.SequenceName = "se2d1"
        ds.RepetitionTime = "500"
        ds.EchoTime = "10"
        ds.EchoTrainLength = 1


def _to_ct_stored(hu: npt.NDArray[np.float64], signed: bool) -> tuple[npt.NDArray[Any], float]:
    """Stored values and intercept (slope 1): HU = stored + intercept."""
    rounded = np.round(hu)
    if signed:
        return np.clip(rounded, -2048, 4095).astype(np.int16), 0.0
    return np.clip(rounded + 1024.0, 0, 4095).astype(np.uint16), -1024.0


def _mr_window(
    values: npt.NDArray[np.float64], labels_tissue: npt.NDArray[np.bool_]
) -> tuple[float, float]:
    brain = values[labels_tissue]
    lo, hi = np.percentile(brain, [1.0, 99.0])
    return float(round((lo + hi) / 2.0)), float(round(hi - lo))


def _write_file(path: Path, payload: bytes) -> None:
    atomic_write_bytes(path, payload)


def _series_dir(output: Path, spec: StudySpec, plan: SeriesPlan) -> Path:
    name = plan.description.lower().replace(" ", "_")
    return output / DICOM_DIR / spec.key / f"{plan.number:03d}_{name}"


def _localizer_plan(spec: StudySpec) -> SeriesPlan:
    return SeriesPlan(1, "SCOUT LAT" if spec.modality == "CT" else "LOCALIZER SAG", "localizer")


def _write_localizer(output: Path, spec: StudySpec, index: int, seed: int) -> Path:
    plan = _localizer_plan(spec)
    ds = _base_dataset(spec, index, seed, plan)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    ds.AcquisitionNumber = 1
    ds.ContentDate = ds.StudyDate
    ds.ContentTime = ds.SeriesTime
    row = np.array([0.0, 1.0, 0.0])
    col = np.array([0.0, 0.0, -1.0])
    if spec.modality == "CT":
        size, pixel_mm = 256, 1.0
        pixels: npt.NDArray[Any] = render_ct_scout(spec, size, size, pixel_mm)
        position = np.array([0.0, -(size - 1) / 2.0 * pixel_mm, 70.0])
        _ct_acquisition(ds, 500.0, 0.0)
        ds.SliceThickness = "1"
        ds.RescaleIntercept = "0"
        ds.RescaleSlope = "1"
        ds.RescaleType = "US"
        ds.WindowCenter = "1400"
        ds.WindowWidth = "2800"
    else:
        size, pixel_mm = 192, 1.3
        position = np.array([0.0, 4.0 - (size - 1) / 2.0 * pixel_mm, 100.0])
        r = np.arange(size, dtype=np.float64)[:, None, None]
        c = np.arange(size, dtype=np.float64)[None, :, None]
        lps = position + c * pixel_mm * row + r * pixel_mm * col
        ras = lps * np.array([-1.0, -1.0, 1.0])
        tissue, lesion = classify(ras, spec.head)
        signal = mr_values(tissue, lesion, spec.head, "T1") * bias_field(ras)
        rng = np.random.default_rng([seed, index, plan.number])
        noisy = np.hypot(
            signal + rng.standard_normal(signal.shape) * MR_NOISE,
            rng.standard_normal(signal.shape) * MR_NOISE,
        )
        pixels = np.clip(np.round(noisy), 0, 4095).astype(np.uint16)
        _mr_acquisition(ds, "T1")
        ds.SliceThickness = "8"
        ds.WindowCenter = "600"
        ds.WindowWidth = "1200"
    _plane(ds, position, row, col, pixel_mm)
    ds.SliceLocation = "0"
    path = _series_dir(output, spec, plan) / "IM00001.dcm"
    _write_file(path, _finish(ds, spec, seed, plan, 1, pixels, EXPLICIT_VR_LITTLE_ENDIAN))
    return path


def _stack_geometry(spec: StudySpec) -> StackGeometry:
    base = spec.geometry or (CT_GEOMETRY if spec.modality == "CT" else MR_GEOMETRY)
    return dataclasses.replace(base, tilt_deg=spec.tilt_deg)


def _write_volume_series(
    output: Path,
    spec: StudySpec,
    index: int,
    seed: int,
    plan: SeriesPlan,
    geometry: StackGeometry,
) -> tuple[list[Path], npt.NDArray[np.uint8]]:
    rng = np.random.default_rng([seed, index, plan.number])
    values, labels = render_stack(spec, geometry, plan.contrast, rng)
    if spec.modality == "MR":
        stored_all: npt.NDArray[Any] = np.clip(np.round(values), 0, 4095).astype(np.uint16)
        brain = np.zeros(values.shape, dtype=bool)
        for k in range(geometry.n_slices):
            tissue, _ = classify(geometry.pixel_points_ras(k), spec.head)
            brain[k] = np.isin(
                tissue, [int(t) for t in (Tissue.GREY, Tissue.WHITE, Tissue.DEEP_GREY)]
            )
        centre, width = _mr_window(values, brain)
        intercept = 0.0
    else:
        stored_all, intercept = _to_ct_stored(values, spec.signed)
    folder = _series_dir(output, spec, plan)
    written = []
    for k in range(geometry.n_slices):
        ds = _base_dataset(spec, index, seed, plan)
        ds.AcquisitionNumber = 1
        ds.ContentDate = ds.StudyDate
        ds.ContentTime = f"{ds.SeriesTime[:4]}{k % 60:02d}"
        ds.AcquisitionDate = ds.StudyDate
        ds.AcquisitionTime = ds.ContentTime
        position = geometry.position(k)
        _plane(ds, position, geometry.row_cosine, geometry.col_cosine, geometry.pixel_mm)
        ds.SliceThickness = _ds_number(geometry.thickness_mm)
        ds.SliceLocation = _ds_number(geometry.first_z + k * geometry.step_mm)
        if spec.modality == "CT":
            ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
            _ct_acquisition(ds, geometry.cols * geometry.pixel_mm, spec.tilt_deg)
            ds.RescaleIntercept = _ds_number(intercept)
            ds.RescaleSlope = "1"
            ds.RescaleType = "HU"
            ds.WindowCenter = ["40", "600"]
            ds.WindowWidth = ["80", "2800"]
            ds.WindowCenterWidthExplanation = ["BRAIN", "BONE"]
        else:
            ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
            _mr_acquisition(ds, plan.contrast)
            ds.SpacingBetweenSlices = _ds_number(geometry.step_mm)
            ds.WindowCenter = _ds_number(centre)
            ds.WindowWidth = _ds_number(width)
        path = folder / f"IM{k + 1:05d}.dcm"
        _write_file(path, _finish(ds, spec, seed, plan, k + 1, stored_all[k], spec.transfer_syntax))
        written.append(path)
    return written, labels


def _finding_record(
    spec: StudySpec,
    truth: FindingTruth,
    labels: npt.NDArray[np.uint8],
    affine: npt.NDArray[np.float64],
) -> dict[str, Any]:
    value = spec.head.lesions.index(truth.lesion) + 1
    ks, rows, cols = np.nonzero(labels == value)
    if ks.size == 0:
        raise ValueError(f"study {spec.key}: lesion {truth.lesion.kind.value} covers no voxel")
    ijk = np.stack([cols, rows, ks], axis=1).astype(np.float64)
    world = ijk @ affine[:3, :3].T + affine[:3, 3]
    voxel_ml = abs(float(np.linalg.det(affine[:3, :3]))) / 1000.0
    record: dict[str, Any] = {
        "label_value": value,
        "type": truth.lesion.kind.value,
        "laterality": truth.laterality,
        "location": truth.location,
        "centre_ras_mm": [round(float(v), 1) for v in world.mean(axis=0)],
        "bbox_ras_mm": [
            [round(float(v), 1) for v in world.min(axis=0)],
            [round(float(v), 1) for v in world.max(axis=0)],
        ],
        "slice_range": [int(ks.min()), int(ks.max())],
        "instance_range": [int(ks.min()) + 1, int(ks.max()) + 1],
        "voxels": int(ks.size),
        "volume_ml": round(ks.size * voxel_ml, 1),
    }
    if truth.lesion.ct_hu is not None and spec.modality == "CT":
        record["true_hu"] = truth.lesion.ct_hu
    if truth.lesion.ct_delta_hu and spec.modality == "CT":
        record["true_delta_hu"] = truth.lesion.ct_delta_hu
    if truth.expected_hu is not None:
        record["expected_hu"] = list(truth.expected_hu)
        record["expected_hu_note"] = (
            "median of the lesion voxels not next to bone (> 150 HU in-plane neighbours): "
            "partial volume with the skull raises the edge voxels, as on a real scanner"
        )
    if truth.expected_delta_hu is not None:
        record["expected_delta_hu"] = list(truth.expected_delta_hu)
    if spec.modality == "MR":
        record["signal"] = {"T1": truth.lesion.t1, "FLAIR": truth.lesion.flair}
    return record


def mimic_records(spec: StudySpec) -> list[dict[str, Any]]:
    """The mimics drawn in a study (physiological calcifications, beam hardening): each
    with ``"finding": false``, what the truth says about them."""
    out: list[dict[str, Any]] = []
    if spec.head.calcifications:
        for name, shape in CALCIFICATIONS.items():
            out.append(
                {
                    "type": "physiological_calcification",
                    "location": name,
                    "centre_ras_mm": list(shape.centre),
                    "radii_mm": list(shape.radii),
                    "true_hu": CT_HU[Tissue.CALCIFICATION] if spec.modality == "CT" else None,
                    "finding": False,
                }
            )
    if spec.head.beam_hardening_hu and spec.modality == "CT":
        out.append(
            {
                "type": "beam_hardening",
                "location": "streaks between and behind the petrous bones (posterior fossa)",
                "centre_ras_mm": [0.0, PETROUS_APICES[0][1], PETROUS_APICES[0][2]],
                "amplitude_hu": spec.head.beam_hardening_hu,
                "finding": False,
            }
        )
    return out


def generate_study(
    spec: StudySpec, index: int, output: str | Path, seed: int = DEFAULT_SEED
) -> dict[str, Any]:
    """Write one study (DICOM and ground truth) under ``output``; return its truth record."""
    out = Path(output)
    geometry = _stack_geometry(spec)
    series_records: list[dict[str, Any]] = []
    localizer = _write_localizer(out, spec, index, seed)
    series_records.append(
        {
            "series_number": 1,
            "role": "localizer",
            "description": _localizer_plan(spec).description,
            "path": localizer.parent.relative_to(out).as_posix(),
            "series_instance_uid": _uid(seed, spec.key, "series", 1),
            "instances": 1,
            "transfer_syntax": EXPLICIT_VR_LITTLE_ENDIAN,
        }
    )
    if spec.modality == "CT":
        plans = [SeriesPlan(2, "HEAD 5MM" if not spec.tilt_deg else "HEAD 5MM TILT", "volume")]
    else:
        plans = [
            SeriesPlan(2, "AX T1 SE", "volume", "T1"),
            SeriesPlan(3, "AX FLAIR", "volume", "FLAIR"),
        ]
    truth_dir = out / TRUTH_DIR / spec.key
    affine = geometry.affine_ras()
    findings: list[dict[str, Any]] = []
    for plan in plans:
        files, labels = _write_volume_series(out, spec, index, seed, plan, geometry)
        label_name = f"label_series{plan.number:03d}.nii.gz"
        info = SeriesInfo(
            modality=spec.modality,
            series_uid=_uid(seed, spec.key, "series", plan.number),
            study_uid=_uid(seed, spec.key, "study"),
            series_number=plan.number,
            series_description=f"{plan.description} lesion labels",
        )
        save_nifti(
            Volume(np.ascontiguousarray(labels.transpose(2, 1, 0)), affine, info),
            truth_dir / label_name,
            np.uint8,
        )
        series_records.append(
            {
                "series_number": plan.number,
                "role": "volume",
                "description": plan.description,
                "contrast": plan.contrast or "CT",
                "path": files[0].parent.relative_to(out).as_posix(),
                "series_instance_uid": info.series_uid,
                "instances": len(files),
                "transfer_syntax": spec.transfer_syntax,
                "shape": [geometry.cols, geometry.rows, geometry.n_slices],
                "pixel_spacing_mm": geometry.pixel_mm,
                "slice_thickness_mm": geometry.thickness_mm,
                "table_step_mm": geometry.step_mm,
                "slice_spacing_mm": round(
                    geometry.step_mm * math.cos(math.radians(spec.tilt_deg)), 4
                ),
                "gantry_tilt_deg": spec.tilt_deg,
                "label": label_name,
                "label_affine_ras": [[round(float(v), 6) for v in row] for row in affine],
            }
        )
        if not findings:
            findings = [_finding_record(spec, t, labels, affine) for t in spec.findings]
    record = {
        "study": spec.key,
        "title": spec.title,
        "synthetic": True,
        "modality": spec.modality,
        "study_instance_uid": _uid(seed, spec.key, "study"),
        "study_date": study_date(spec, index),
        "patient_name": spec.patient_name,
        "follow_up_of": spec.follow_up_of or None,
        "description": spec.description,
        "outcome": spec.outcome,
        "urgency": spec.urgency,
        "findings": findings,
        "modifiers": list(spec.modifiers),
        "mimics": mimic_records(spec),
        "series": series_records,
        "label_space": "Label volumes are on the acquired grid: i = image column, j = image row, "
        "k = slice (instance number - 1, inferior to superior); the affine maps to RAS+ mm. "
        "With gantry tilt this affine has shear (k steps along the table, not the slice normal); "
        "compare with a tilt-corrected volume in world coordinates.",
        "seed": seed,
    }
    atomic_write_json(truth_dir / "truth.json", record)
    logger.info("sample study %s written", spec.key)
    return record


def generate(
    output: str | Path, seed: int = DEFAULT_SEED, studies: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Write every sample study (or those whose key is in ``studies``) under ``output``.

    Parameters
    ----------
    output : str or Path
        Destination folder; ``dicom/`` and ``ground_truth/`` are created inside. Files of the
        same name are replaced atomically; nothing else is removed.
    seed : int
        Seed of UIDs and noise. The committed ``sample_data/`` uses :data:`DEFAULT_SEED`.
    studies : sequence of str, optional
        Keys of the studies to write (default: all).

    Returns
    -------
    list of dict
        The ground-truth record of each study written.

    Raises
    ------
    ValueError
        If a requested study key does not exist.
    """
    specs = study_specs()
    known = [s.key for s in specs]
    if studies is not None:
        unknown = sorted(set(studies) - set(known))
        if unknown:
            raise ValueError(f"unknown sample studies {unknown}; choose from {known}")
    records = []
    for index, spec in enumerate(specs, start=1):
        if studies is None or spec.key in studies:
            records.append(generate_study(spec, index, output, seed))
    # the label volumes are not studies: scans of the sample folder skip them
    marker = Path(output) / TRUTH_DIR / IGNORE_MARKER
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(
        "Ground-truth label volumes: not studies. imaging-triage skips folders holding this file.\n"
    )
    return records
