"""A synthetic adult head, defined analytically in patient space (RAS+, millimetres).

The phantom is a set of implicit shapes (ellipsoids, sheets, level sets of a smooth
field) evaluated at arbitrary points, so that any acquisition geometry (axial, tilted,
sagittal localizer) samples exactly the same anatomy. :func:`classify` returns, for
each point, a :class:`Tissue` and the index of the lesion covering it (0 for none);
:func:`ct_values` and :func:`mr_values` turn those into Hounsfield units or MR signal.

Coordinates: +x is the patient's right, +y anterior, +z superior; the origin is near
the centre of the brain. A left-sided lesion therefore has x < 0.

The anatomy is simplified but keeps what a reader and our checks rely on: scalp (skin
and fat), a skull with cortical tables (>= 1000 HU) and diploe, the skull base, the
subarachnoid space with sulci and basal cisterns, cortex (grey matter) over white
matter, deep grey nuclei, lateral, third and fourth ventricles, the falx and tentorium,
the cerebellum and brainstem.

Examples
--------
>>> import numpy as np
>>> tissue, lesion = classify(np.array([[0.0, 0.0, 200.0]]), HeadSpec())
>>> Tissue(int(tissue[0])).name
'AIR'
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.uint8]


class Tissue(enum.IntEnum):
    """Tissue classes of the phantom (the value is the class code in label arrays)."""

    #: air outside the head
    AIR = 0
    #: skin and galea of the scalp
    SKIN = 1
    #: subcutaneous fat of the scalp
    FAT = 2
    #: cortical bone of the inner and outer skull tables
    BONE = 3
    #: cancellous bone (diploe) between the tables
    DIPLOE = 4
    #: subarachnoid CSF: convexity, sulci, fissures and basal cisterns
    CSF = 5
    #: cortical grey matter
    GREY = 6
    #: white matter
    WHITE = 7
    #: deep grey nuclei (lentiform nuclei and thalami)
    DEEP_GREY = 8
    #: CSF in the lateral, third and fourth ventricles
    VENTRICLE = 9
    #: dura of the falx cerebri and tentorium
    DURA = 10
    #: cerebellar hemispheres and vermis
    CEREBELLUM = 11
    #: brainstem (midbrain, pons, medulla)
    BRAINSTEM = 12
    #: bone of the skull base
    SKULL_BASE = 13
    #: soft tissue below the skull base (face and neck)
    SOFT = 14
    #: air in the paranasal sinuses
    SINUS = 15
    #: physiological calcification (pineal gland, choroid plexus, falx): not a finding
    CALCIFICATION = 16


#: tissues that make up the brain parenchyma (what an infarct or oedema can affect)
PARENCHYMA = frozenset(
    {Tissue.GREY, Tissue.WHITE, Tissue.DEEP_GREY, Tissue.CEREBELLUM, Tissue.BRAINSTEM}
)
#: tissues inside the dura (what an intracranial lesion may replace)
INTRACRANIAL = PARENCHYMA | {Tissue.CSF, Tissue.VENTRICLE, Tissue.DURA}
#: CSF spaces (where subarachnoid blood sits)
CSF_SPACES = frozenset({Tissue.CSF})


class LesionKind(str, enum.Enum):
    """Lesion kinds the generator draws; values are the FindingType codes of DESIGN.md §3."""

    #: acute subdural hematoma (crescent along the convexity)
    SDH = "sdh"
    #: intraparenchymal hemorrhage
    IPH = "iph"
    #: subarachnoid hemorrhage (blood in sulci and cisterns)
    SAH = "sah"
    #: acute ischemic infarct (hypodense parenchyma in an arterial territory)
    INFARCT = "infarct"
    #: tumour (mass)
    MASS = "mass"
    #: vasogenic oedema around a mass (modifier of ``mass_edema``)
    EDEMA = "edema"
    #: acute epidural hematoma (biconvex lens against the inner table)
    EDH = "edh"
    #: intraventricular hemorrhage (blood layering in the ventricles)
    IVH = "ivh"


@dataclass(frozen=True)
class Ellipsoid:
    """An axis-aligned ellipsoid in RAS mm."""

    centre: tuple[float, float, float]
    radii: tuple[float, float, float]

    def rho(self, p: FloatArray) -> FloatArray:
        """Normalised radius: < 1 inside, 1 on the surface."""
        c = np.asarray(self.centre)
        r = np.asarray(self.radii)
        return np.sqrt((((p - c) / r) ** 2).sum(axis=-1))

    def depth(self, p: FloatArray) -> FloatArray:
        """Approximate distance inside the surface in mm (negative outside)."""
        c = np.asarray(self.centre)
        r = np.asarray(self.radii)
        q = p - c
        rho = np.sqrt(((q / r) ** 2).sum(axis=-1))
        grad = np.sqrt(((q / r**2) ** 2).sum(axis=-1))
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(grad > 0, (1.0 - rho) * rho / grad, float(min(r)))
        return np.asarray(d, dtype=np.float64)


@dataclass(frozen=True)
class Crescent:
    """A crescent against the inner table of the skull (the shape of a subdural).

    Parameters
    ----------
    direction : tuple of float
        Direction (RAS, from the head centre) of its thickest point.
    half_angle_deg : float
        Angular half-extent around ``direction``.
    thickness_mm : float
        Thickness at the thickest point; tapers to 0 at the edge.
    """

    direction: tuple[float, float, float]
    half_angle_deg: float
    thickness_mm: float


@dataclass(frozen=True)
class Lesion:
    """One lesion: a shape, the tissues it may occupy, and its appearance.

    Parameters
    ----------
    kind : LesionKind
        What it is.
    shape : Ellipsoid or Crescent
        Where it is (unwarped patient space).
    occupies : frozenset of Tissue
        Tissues it replaces; other tissues inside the shape are left alone.
    ct_hu : float or None
        Absolute density (HU) of the lesion on CT.
    ct_delta_hu : float
        Change of density relative to the tissue it occupies (used when ``ct_hu`` is None).
    t1, flair : float or None
        MR signal of the lesion (None keeps the tissue's own signal).
    """

    kind: LesionKind
    shape: Ellipsoid | Crescent
    occupies: frozenset[Tissue] = INTRACRANIAL
    ct_hu: float | None = None
    ct_delta_hu: float = 0.0
    t1: float | None = None
    flair: float | None = None


@dataclass(frozen=True)
class HeadSpec:
    """The head to draw: lesions (in priority order) and mass effect.

    Parameters
    ----------
    lesions : tuple of Lesion
        Drawn in order; the first lesion covering a point wins. Label value = index + 1.
    midline_shift_mm : float
        Displacement of the midline structures towards +x (patient's right) when
        positive; the shift fades away from the midline and from ``shift_centre``.
    shift_centre : tuple of float
        Centre (RAS mm) of the displacement.
    sulcal_seed : int
        Seed of the gyral pattern (kept fixed so every study has the same brain).
    calcifications : bool
        Draw the physiological calcifications of :data:`CALCIFICATIONS` (pineal gland,
        choroid plexus glomera, a falx plaque): dense, small, never findings.
    beam_hardening_hu : float
        Peak amplitude (HU) of the beam-hardening streaks of :func:`beam_hardening`
        between the petrous bones (0: none). CT only.
    """

    lesions: tuple[Lesion, ...] = ()
    midline_shift_mm: float = 0.0
    shift_centre: tuple[float, float, float] = (0.0, 0.0, 15.0)
    sulcal_seed: int = 7
    calcifications: bool = False
    beam_hardening_hu: float = 0.0


# --- the head: fixed geometry ---------------------------------------------------------

HEAD_CENTRE = (0.0, -2.0, -8.0)
SCALP = Ellipsoid(HEAD_CENTRE, (76.0, 96.0, 86.0))
SKULL_OUTER = Ellipsoid(HEAD_CENTRE, (70.0, 90.0, 80.0))
SKULL_INNER = Ellipsoid(HEAD_CENTRE, (63.0, 83.0, 73.0))
BRAIN = Ellipsoid(HEAD_CENTRE, (60.5, 80.5, 70.5))
SKIN_MM = 2.0
FAT_MM = 3.0
TABLE_MM = 2.0

LENTIFORM = (
    Ellipsoid((20.0, 4.0, 2.0), (7.0, 13.0, 9.0)),
    Ellipsoid((-20.0, 4.0, 2.0), (7.0, 13.0, 9.0)),
)
THALAMI = (
    Ellipsoid((10.0, -14.0, 5.0), (7.0, 11.0, 8.0)),
    Ellipsoid((-10.0, -14.0, 5.0), (7.0, 11.0, 8.0)),
)
LATERAL_VENTRICLES = (
    Ellipsoid((9.0, 0.0, 15.0), (5.0, 27.0, 7.0)),
    Ellipsoid((-9.0, 0.0, 15.0), (5.0, 27.0, 7.0)),
)
FRONTAL_HORNS = (
    Ellipsoid((11.0, 20.0, 12.0), (5.5, 9.0, 7.0)),
    Ellipsoid((-11.0, 20.0, 12.0), (5.5, 9.0, 7.0)),
)
OCCIPITAL_HORNS = (
    Ellipsoid((15.0, -28.0, 10.0), (4.5, 10.0, 6.0)),
    Ellipsoid((-15.0, -28.0, 10.0), (4.5, 10.0, 6.0)),
)
THIRD_VENTRICLE = Ellipsoid((0.0, -4.0, -1.0), (1.8, 12.0, 9.0))
FOURTH_VENTRICLE = Ellipsoid((0.0, -33.0, -36.0), (5.0, 3.5, 7.0))
SUPRASELLAR_CISTERN = Ellipsoid((0.0, 8.0, -19.0), (11.0, 8.0, 4.0))
BRAINSTEM_Y = -16.0
BRAINSTEM_RADII = (11.0, 10.0)
SINUSES = (Ellipsoid((0.0, 55.0, -70.0), (28.0, 22.0, 18.0)),)
#: physiological calcifications, by name (brain coordinates: they move with a midline
#: shift): the pineal gland behind the third ventricle, the glomera of the choroid plexus
#: in the atria of the lateral ventricles, a plaque in the falx
CALCIFICATIONS: dict[str, Ellipsoid] = {
    "pineal gland": Ellipsoid((0.0, -19.0, 2.0), (3.0, 3.0, 3.0)),
    "right choroid plexus": Ellipsoid((13.0, -24.0, 12.0), (3.0, 4.0, 3.0)),
    "left choroid plexus": Ellipsoid((-13.0, -24.0, 12.0), (3.0, 4.0, 3.0)),
    "falx": Ellipsoid((0.0, 25.0, 45.0), (1.5, 8.0, 5.0)),
}
#: the petrous apices (RAS mm), where the beam-hardening streaks of the skull base start
PETROUS_APICES = ((-26.0, -20.0, -44.0), (26.0, -20.0, -44.0))
#: directions (in-plane angle from +x, degrees) of the bright streaks from the left apex;
#: the right apex has their mirror images
STREAK_ANGLES_DEG = (-40.0, -65.0)


def skull_floor(p: FloatArray) -> FloatArray:
    """Height (z, mm) of the floor of the cranial cavity under each point.

    Posterior fossa lowest, middle fossa higher, anterior fossa (orbital roofs) highest.
    """
    y = p[..., 1]
    x = p[..., 0]
    middle = 18.0 / (1.0 + np.exp(-(y + 20.0) / 5.0))
    anterior = 14.0 / (1.0 + np.exp(-(y - 22.0) / 5.0))
    return -64.0 + middle + anterior + 0.002 * x**2


def tentorium(p: FloatArray) -> FloatArray:
    """Height (z, mm) of the tentorium cerebelli (slopes down posteriorly and laterally)."""
    return -18.0 + 0.28 * (p[..., 1] + 22.0) - 0.003 * p[..., 0] ** 2


def beam_hardening(points: npt.ArrayLike, amplitude_hu: float) -> FloatArray:
    """CT beam-hardening streaks near the skull base (HU to add), in patient space.

    The dense petrous bones harden the beam along the rays joining them: a dark band
    between the petrous apices (the Hounsfield bar, ``-0.7 * amplitude``) and thin bright
    streaks fanning back from each apex into the posterior fossa (``+amplitude`` at
    their start, fading over 35 mm), all in the axial plane and strongest at the level of
    the apices (fading 6 mm above and below). Thin, straight and dense enough to look
    like blood: a mimic the checks must not flag.
    """
    p = np.asarray(points, dtype=np.float64)
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    level = PETROUS_APICES[0][2]
    envelope = np.exp(-(((z - level) / 6.0) ** 2))
    (lx, ly, _), (rx, _, _) = PETROUS_APICES
    between = np.clip(x, lx, rx)
    band = np.hypot(x - between, y - ly)
    out = -0.7 * amplitude_hu * np.exp(-((band / 3.0) ** 2))
    for ax, ay, _ in PETROUS_APICES:
        for angle in STREAK_ANGLES_DEG:
            theta = math.radians(angle if ax < 0 else 180.0 - angle)
            ux, uy = math.cos(theta), math.sin(theta)
            along = (x - ax) * ux + (y - ay) * uy
            across = np.abs(-(x - ax) * uy + (y - ay) * ux)
            ray = np.exp(-((across / 1.2) ** 2)) * np.exp(-np.clip(along, 0.0, None) / 35.0)
            out = out + amplitude_hu * np.where(along > 0, ray, 0.0)
    return np.asarray(out * envelope, dtype=np.float64)


def _shift(p: FloatArray, spec: HeadSpec) -> FloatArray:
    """Brain coordinates of each point, undoing the midline shift of ``spec``."""
    if spec.midline_shift_mm == 0.0:
        return p
    _, cy, cz = spec.shift_centre
    w = (
        np.exp(-((p[..., 0] / 32.0) ** 2))
        * np.exp(-(((p[..., 2] - cz) / 40.0) ** 2))
        * np.exp(-(((p[..., 1] - cy) / 70.0) ** 2))
    )
    q = p.copy()
    q[..., 0] = p[..., 0] - spec.midline_shift_mm * w
    return q


def _gyral_field(q: FloatArray, seed: int, wavelength: float) -> tuple[FloatArray, float]:
    """A smooth deterministic field whose zero set draws the sulci; and its mean gradient.

    Evaluated at ``(|x|, y, z)`` by the caller, so that both hemispheres are mirror images
    (a lesion can then be compared with the mirrored contralateral region).
    """
    rng = np.random.default_rng(seed)
    n = 7
    k0 = 2.0 * math.pi / wavelength
    dirs = rng.normal(size=(n, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    phases = rng.uniform(0.0, 2.0 * math.pi, size=n)
    g = np.zeros(q.shape[:-1])
    for d, ph in zip(dirs, phases, strict=True):
        g += np.sin(k0 * (q @ d) + ph)
    return g, k0 * math.sqrt(n / 2.0)


def classify(points: npt.ArrayLike, spec: HeadSpec) -> tuple[IntArray, IntArray]:
    """Tissue and lesion at each point.

    Parameters
    ----------
    points : array_like, shape (..., 3)
        RAS+ coordinates in mm.
    spec : HeadSpec
        Lesions and mass effect.

    Returns
    -------
    tissue : numpy.ndarray of uint8, shape (...)
        :class:`Tissue` code of the normal anatomy at each point (what lies under a lesion).
    lesion : numpy.ndarray of uint8, shape (...)
        0 where no lesion, else the 1-based index of the lesion in ``spec.lesions``.
    """
    p_all = np.asarray(points, dtype=np.float64)
    shape = p_all.shape[:-1]
    p_flat = p_all.reshape(-1, 3)
    tissue = np.full(p_flat.shape[0], Tissue.AIR, dtype=np.uint8)
    lesion = np.zeros(p_flat.shape[0], dtype=np.uint8)

    # scalp and skull, outside in (only points inside the head are looked at further)
    d_scalp = SCALP.depth(p_flat)
    head = np.nonzero(d_scalp > 0)[0]
    p = p_flat[head]
    t = np.full(head.size, Tissue.SKIN, dtype=np.uint8)
    t[(d_scalp[head] > SKIN_MM) & (d_scalp[head] <= SKIN_MM + FAT_MM)] = Tissue.FAT
    d_skull = SKULL_OUTER.depth(p)
    in_skull = d_skull > 0
    t[in_skull] = Tissue.BONE
    d_inner = SKULL_INNER.depth(p)
    t[in_skull & (d_skull > TABLE_MM) & (d_inner < -TABLE_MM)] = Tissue.DIPLOE
    cavity = d_inner > 0

    # skull base: bone under the floor of the cranial cavity, soft tissue and sinuses below
    floor = skull_floor(p)
    z = p[:, 2]
    below = cavity & (z < floor)
    t[below] = Tissue.SOFT
    t[below & (z > floor - 9.0)] = Tissue.SKULL_BASE
    for sinus in SINUSES:
        t[below & (sinus.rho(p) < 1.0)] = Tissue.SINUS
    cavity &= z >= floor

    inner = np.nonzero(cavity)[0]
    t_in = _intracranial(p[inner], floor[inner], spec)
    t[inner] = t_in
    tissue[head] = t

    l_in = np.zeros(inner.size, dtype=np.uint8)
    for index in range(len(spec.lesions), 0, -1):  # first lesion wins: draw it last
        les = spec.lesions[index - 1]
        inside = _inside(les.shape, p[inner], d_inner[inner])
        allowed = np.isin(t_in, [int(x) for x in les.occupies])
        l_in[inside & allowed] = index
    lesion[head[inner]] = l_in
    return tissue.reshape(shape), lesion.reshape(shape)


def anatomy_masks(points: npt.ArrayLike) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Ground truth of the brain masks at each point: intracranial region and brain.

    Parameters
    ----------
    points : array_like, shape (..., 3)
        RAS+ coordinates in mm.

    Returns
    -------
    intracranial : numpy.ndarray of bool, shape (...)
        Inside the dura: brain, CSF spaces (convexity CSF included), ventricles, falx and
        tentorium (what a CT intracranial mask should cover).
    brain : numpy.ndarray of bool, shape (...)
        Inside the brain's outer surface: parenchyma with its sulci and ventricles,
        without the CSF layer over the convexity (what an MR brain extraction covers).
    """
    p = np.asarray(points, dtype=np.float64)
    tissue, _ = classify(p, HeadSpec())
    intracranial = np.isin(tissue, [int(t) for t in INTRACRANIAL])
    brain = intracranial & (BRAIN.depth(p) > 0) & (p[..., 2] > skull_floor(p) + 2.0)
    return intracranial, np.asarray(brain, dtype=bool)


def _intracranial(p: FloatArray, floor: FloatArray, spec: HeadSpec) -> IntArray:
    """Tissue of points inside the cranial cavity (above its floor)."""
    n = p.shape[0]
    tissue = np.full(n, Tissue.CSF, dtype=np.uint8)  # subarachnoid space unless said otherwise
    q = _shift(p, spec)
    qx, qy, qz = q[:, 0], q[:, 1], q[:, 2]
    q_mirror = np.abs(q) * np.array([1.0, 0.0, 0.0]) + q * np.array([0.0, 1.0, 1.0])
    d_brain = BRAIN.depth(p)
    brain = (d_brain > 0) & (p[:, 2] > floor + 2.0)

    # posterior fossa: cerebellum under the tentorium, brainstem through it
    tent = tentorium(q)
    infratentorial = (qz < tent) & (qy < -18.0)
    cereb = np.nonzero(brain & infratentorial)[0]  # the posterior fossa is full of it
    g_cb, grad_cb = _gyral_field(q_mirror[cereb], spec.sulcal_seed + 1, 9.0)
    folia = (np.abs(g_cb) / grad_cb < 0.5) & (d_brain[cereb] < 10.0)
    tissue[cereb] = np.where(folia, Tissue.CSF, Tissue.CEREBELLUM)
    bs_r = np.sqrt((qx / BRAINSTEM_RADII[0]) ** 2 + ((qy - BRAINSTEM_Y) / BRAINSTEM_RADII[1]) ** 2)
    stem = (qz > -80.0) & (qz < -6.0) & (bs_r < 1.0)
    cistern = (qz > -32.0) & (qz < -6.0) & (bs_r >= 1.0) & (bs_r < 1.35)
    tissue[stem] = Tissue.BRAINSTEM
    tissue[cistern] = Tissue.CSF
    tissue[FOURTH_VENTRICLE.rho(q) < 1.0] = Tissue.VENTRICLE
    tissue[(np.abs(qz - tent) < 0.8) & (qy < -20.0)] = Tissue.DURA

    # cerebrum: cortex over white matter, sulci from a smooth random field
    cerebrum = brain & ~infratentorial & ~stem & ~cistern
    idx = np.nonzero(cerebrum)[0]
    g, grad = _gyral_field(q_mirror[idx], spec.sulcal_seed, 30.0)
    d_sulcus = np.abs(g) / grad
    db = d_brain[idx]
    sulcus = (d_sulcus < 0.9) & (db < 20.0)
    cortex = (db < 3.0) | ((d_sulcus < 3.6) & (db < 23.0))
    tissue[idx] = np.where(sulcus, Tissue.CSF, np.where(cortex, Tissue.GREY, Tissue.WHITE))

    # Sylvian fissures: the stem runs laterally and back from the suprasellar cistern, the
    # insular cistern runs front to back over the insula
    ax = np.abs(qx)
    level = (qz > -22.0) & (qz < 12.0)
    stem_line = np.abs(qy - (14.0 - 0.6 * (ax - 28.0))) < 1.3
    insular = (np.abs(ax - 36.0) < 1.1) & (np.abs(qy) < 14.0)
    tissue[cerebrum & level & (((ax > 24.0) & stem_line) | insular)] = Tissue.CSF
    tissue[SUPRASELLAR_CISTERN.rho(q) < 1.0] = Tissue.CSF

    # deep grey nuclei and ventricles
    for nucleus in (*LENTIFORM, *THALAMI):
        tissue[cerebrum & (nucleus.rho(q) < 1.0)] = Tissue.DEEP_GREY
    for ventricle in (*LATERAL_VENTRICLES, *FRONTAL_HORNS, *OCCIPITAL_HORNS, THIRD_VENTRICLE):
        tissue[ventricle.rho(q) < 1.0] = Tissue.VENTRICLE

    # interhemispheric fissure with the falx (above the corpus callosum, and in front/behind)
    fissure_zone = cerebrum & ((qz > 24.0) | (np.abs(qy + 2.0) > 42.0))
    tissue[fissure_zone & (np.abs(qx) < 2.0)] = Tissue.CSF
    tissue[fissure_zone & (np.abs(qx) < 0.7)] = Tissue.DURA
    if spec.calcifications:
        for calcification in CALCIFICATIONS.values():
            tissue[calcification.rho(q) < 1.0] = Tissue.CALCIFICATION
    return tissue


def _inside(
    shape: Ellipsoid | Crescent, p: FloatArray, d_inner: FloatArray
) -> npt.NDArray[np.bool_]:
    if isinstance(shape, Ellipsoid):
        return np.asarray(shape.rho(p) < 1.0)
    u0 = np.asarray(shape.direction, dtype=np.float64)
    u0 /= np.linalg.norm(u0)
    v = p - np.asarray(HEAD_CENTRE)
    norm = np.linalg.norm(v, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.where(norm > 0, (v @ u0) / norm, -1.0)
    cos_edge = math.cos(math.radians(shape.half_angle_deg))
    frac = np.clip((cos - cos_edge) / (1.0 - cos_edge), 0.0, 1.0)
    thickness = shape.thickness_mm * np.sqrt(frac)
    return np.asarray((d_inner > 0) & (d_inner < thickness))


# --- contrast ----------------------------------------------------------------------------

#: CT density (HU) of each tissue: references of DESIGN.md §3 (grey 37-45, white 20-30)
CT_HU: dict[Tissue, float] = {
    Tissue.AIR: -1000.0,
    Tissue.SKIN: 40.0,
    Tissue.FAT: -95.0,
    Tissue.BONE: 1650.0,
    Tissue.DIPLOE: 750.0,
    Tissue.CSF: 7.0,
    Tissue.GREY: 41.0,
    Tissue.WHITE: 26.0,
    Tissue.DEEP_GREY: 38.0,
    Tissue.VENTRICLE: 5.0,
    Tissue.DURA: 50.0,
    Tissue.CEREBELLUM: 39.0,
    Tissue.BRAINSTEM: 31.0,
    Tissue.SKULL_BASE: 1100.0,
    Tissue.SOFT: 45.0,
    Tissue.SINUS: -950.0,
    Tissue.CALCIFICATION: 300.0,
}

#: MR signal (arbitrary units) of each tissue: T1-weighted and FLAIR-like
MR_SIGNAL: dict[str, dict[Tissue, float]] = {
    "T1": {
        Tissue.AIR: 0.0,
        Tissue.SKIN: 620.0,
        Tissue.FAT: 1150.0,
        Tissue.BONE: 40.0,
        Tissue.DIPLOE: 900.0,
        Tissue.CSF: 240.0,
        Tissue.GREY: 610.0,
        Tissue.WHITE: 860.0,
        Tissue.DEEP_GREY: 680.0,
        Tissue.VENTRICLE: 230.0,
        Tissue.DURA: 300.0,
        Tissue.CEREBELLUM: 690.0,
        Tissue.BRAINSTEM: 800.0,
        Tissue.SKULL_BASE: 120.0,
        Tissue.SOFT: 560.0,
        Tissue.SINUS: 10.0,
        Tissue.CALCIFICATION: 200.0,
    },
    "FLAIR": {
        Tissue.AIR: 0.0,
        Tissue.SKIN: 520.0,
        Tissue.FAT: 700.0,
        Tissue.BONE: 30.0,
        Tissue.DIPLOE: 520.0,
        Tissue.CSF: 70.0,
        Tissue.GREY: 720.0,
        Tissue.WHITE: 520.0,
        Tissue.DEEP_GREY: 660.0,
        Tissue.VENTRICLE: 60.0,
        Tissue.DURA: 160.0,
        Tissue.CEREBELLUM: 660.0,
        Tissue.BRAINSTEM: 580.0,
        Tissue.SKULL_BASE: 90.0,
        Tissue.SOFT: 460.0,
        Tissue.SINUS: 10.0,
        Tissue.CALCIFICATION: 120.0,
    },
}


def _lookup(table: dict[Tissue, float], tissue: IntArray) -> FloatArray:
    lut = np.zeros(max(int(t) for t in Tissue) + 1, dtype=np.float64)
    for t, value in table.items():
        lut[int(t)] = value
    return lut[tissue]


def ct_values(
    tissue: IntArray, lesion: IntArray, spec: HeadSpec, points: npt.ArrayLike | None = None
) -> FloatArray:
    """Noise-free CT density (HU) of classified points (with the beam-hardening streaks of
    ``spec`` inside the skull when the ``points`` are given)."""
    hu = _lookup(CT_HU, tissue)
    for index, les in enumerate(spec.lesions, start=1):
        mask = lesion == index
        hu[mask] = les.ct_hu if les.ct_hu is not None else hu[mask] + les.ct_delta_hu
    if spec.beam_hardening_hu and points is not None:
        inside = np.isin(tissue, [int(t) for t in (*INTRACRANIAL, Tissue.CALCIFICATION)])
        hu = hu + np.where(inside, beam_hardening(points, spec.beam_hardening_hu), 0.0)
    return hu


def mr_values(tissue: IntArray, lesion: IntArray, spec: HeadSpec, contrast: str) -> FloatArray:
    """Noise-free MR signal of classified points for ``contrast`` (``"T1"`` or ``"FLAIR"``)."""
    if contrast not in MR_SIGNAL:
        raise ValueError(f"unknown MR contrast {contrast!r}; use one of {sorted(MR_SIGNAL)}")
    signal = _lookup(MR_SIGNAL[contrast], tissue)
    for index, les in enumerate(spec.lesions, start=1):
        value = les.t1 if contrast == "T1" else les.flair
        if value is not None:
            signal[lesion == index] = value
    return signal


def bias_field(points: npt.ArrayLike) -> FloatArray:
    """Smooth multiplicative receive-coil bias (about 0.8 to 1.2 over the head)."""
    p = np.asarray(points, dtype=np.float64)
    x, y, z = p[..., 0] / 100.0, p[..., 1] / 100.0, p[..., 2] / 100.0
    return np.asarray(1.0 + 0.10 * x - 0.08 * y + 0.07 * z - 0.10 * (x**2 + y**2) + 0.04 * x * z)
