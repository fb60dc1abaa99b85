"""Stack geometry from headers: sort, check spacing, find duplicates, gaps and tilt.

Works on :class:`~imaging_triage.dicom.frame.Frame` lists only (no pixels), so that
``scan`` can report shape, spacing and problems before anything is decoded, and
``assemble`` places pixels by exactly the same rules.

The rules, from DICOM PS3.3 C.7.6.2 (Image Plane Module):

* frames are sorted by their position along the slice normal (row cosine x column
  cosine), never by InstanceNumber;
* frames sharing one position are repeated acquisitions (4th dimension) when every
  position has the same count; otherwise they are duplicates;
* slice positions must lie on one line; the step between neighbours must be even;
  a gap that is a whole multiple of the step is a missing slice;
* when the line of positions is not parallel to the slice normal the stack is sheared:
  gantry tilt (CT) or a tilted acquisition; the shear angle is the tilt.
"""

from __future__ import annotations

import enum
import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from imaging_triage.dicom.frame import Frame
from imaging_triage.errors import GeometryError, NotAVolumeError

#: positions closer than this (mm) along the normal are the same slice position
SAME_POSITION_MM = 0.01
#: relative tolerance on the slice step before spacing counts as uneven
STEP_RTOL = 0.02
#: absolute tolerance (mm) on the slice step
STEP_ATOL = 0.02
#: tilt below this (degrees) is rounding noise, not tilt
TILT_MIN_DEG = 0.05
#: largest departure of ImageOrientationPatient from unit, perpendicular cosines that is
#: accepted (and then removed by orthonormalising); beyond it the header is refused
COSINE_ATOL = 1e-3
#: largest distance (mm, or this fraction of the step if larger) of a slice from the
#: best-fitting even grid before the spacing counts as uneven (catches slow drift)
DRIFT_ATOL_MM = 0.1
DRIFT_RTOL = 0.02
#: orientation cosines closer than this belong to the same stack
ORIENTATION_ATOL = 1e-3


class Spacing(str, enum.Enum):
    """How the slice positions of a stack are spaced."""

    #: one regular step throughout
    EVEN = "even"
    #: a regular step with whole slices missing
    MISSING = "missing"
    #: irregular steps
    UNEVEN = "uneven"
    #: stacks of one acquisition, each regular, joined end to end with different steps
    #: (a thin posterior-fossa segment and a thick cerebrum segment): resampled onto a
    #: fine even grid by design, not a defect
    SEGMENTED = "segmented"


@dataclass
class StackGeometry:
    """Where each frame of a stack goes and what the stack's grid is.

    Attributes
    ----------
    order : list of list of int
        ``order[k][t]``: index into the stack's frames of slice ``k``, volume ``t``.
    offsets : numpy.ndarray
        Distance (mm) of each slice position from the first, along ``direction``.
    direction : numpy.ndarray
        Unit vector (LPS) from the first slice position to the last.
    normal : numpy.ndarray
        Unit slice normal (LPS).
    step : float
        Median distance between neighbouring slice positions (mm); for one slice, the
        slice thickness (or 1 mm when absent). For a segmented stack: the step of the
        even grid it is resampled onto.
    tilt_deg : float
        Angle between the line of positions and the slice normal.
    spacing : Spacing
        Even, missing slices, or uneven.
    warnings : list of str
        Non-fatal observations (duplicates removed, ...).
    """

    order: list[list[int]]
    offsets: npt.NDArray[np.float64]
    direction: npt.NDArray[np.float64]
    normal: npt.NDArray[np.float64]
    step: float
    tilt_deg: float
    spacing: Spacing
    spacing_detail: str = ""
    warnings: list[str] = field(default_factory=list)
    #: number of stacks joined (segmented acquisitions); 1 for an ordinary stack
    segments: int = 1

    @property
    def n_slices(self) -> int:
        """Number of distinct slice positions."""
        return len(self.order)

    @property
    def n_volumes(self) -> int:
        """Number of repeated acquisitions per position (4th dimension)."""
        return len(self.order[0]) if self.order else 0

    @property
    def tilted(self) -> bool:
        """Whether the stack is sheared (gantry tilt)."""
        return self.tilt_deg >= TILT_MIN_DEG

    def lps_affine(self, first: Frame) -> npt.NDArray[np.float64]:
        """Voxel (i=column, j=row, k=slice) to LPS affine of the *acquired* grid.

        For a tilted stack this affine has shear: the k axis follows the line of slice
        positions, not the normal. With uneven spacing it uses the median step.
        """
        row, col = orthonormal(first)
        aff = np.eye(4)
        aff[:3, 0] = row * first.col_spacing
        aff[:3, 1] = col * first.row_spacing
        normal = np.cross(row, col)
        if self.n_slices > 1 and self.tilted:
            aff[:3, 2] = self.direction * self.step
        else:  # untilted: the slice axis is the normal exactly (no residual shear)
            aff[:3, 2] = normal * self.step * (1.0 if self.direction @ normal >= 0 else -1.0)
        aff[:3, 3] = first.position
        return aff


def orthonormal(frame: Frame) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Row and column cosines made exactly unit length and perpendicular (Gram-Schmidt,
    keeping the row direction). :func:`check_plane` has refused anything far off."""
    row = np.asarray(frame.row_cosine, dtype=np.float64)
    row = row / np.linalg.norm(row)
    col = np.asarray(frame.col_cosine, dtype=np.float64)
    col = col - (col @ row) * row
    return row, col / np.linalg.norm(col)


def same_orientation(a: Frame, b: Frame, atol: float = ORIENTATION_ATOL) -> bool:
    """Whether two frames share row and column cosines within ``atol``."""
    return bool(
        np.allclose(a.row_cosine, b.row_cosine, atol=atol)
        and np.allclose(a.col_cosine, b.col_cosine, atol=atol)
    )


def check_plane(frame: Frame) -> None:
    """Refuse a frame whose orientation or spacing is not a valid image plane.

    Raises
    ------
    GeometryError
        Cosines not unit length or not orthogonal, or non-positive pixel spacing.
    """
    r = np.asarray(frame.row_cosine, dtype=float)
    c = np.asarray(frame.col_cosine, dtype=float)
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(c))):
        raise GeometryError("ImageOrientationPatient is not finite", path=frame.path)
    if abs(np.linalg.norm(r) - 1) > COSINE_ATOL or abs(np.linalg.norm(c) - 1) > COSINE_ATOL:
        raise GeometryError(
            "ImageOrientationPatient cosines are not unit vectors; the header is damaged",
            path=frame.path,
        )
    if abs(float(np.dot(r, c))) > COSINE_ATOL:
        raise GeometryError(
            "ImageOrientationPatient row and column are not perpendicular; the header is damaged",
            path=frame.path,
        )
    spacing = (frame.row_spacing, frame.col_spacing)
    if not all(math.isfinite(s) and s > 0 for s in spacing):
        raise GeometryError(
            f"PixelSpacing {spacing} is not positive; cannot place the image", path=frame.path
        )
    if not all(math.isfinite(p) for p in frame.position):
        raise GeometryError("ImagePositionPatient is not finite", path=frame.path)


def analyse(frames: list[Frame]) -> StackGeometry:
    """Sort a stack's frames and measure its grid.

    Parameters
    ----------
    frames : list of Frame
        Frames of one stack (same orientation, size and pixel spacing).

    Returns
    -------
    StackGeometry
        Sorting, spacing classification and tilt. Uneven spacing and missing slices are
        *reported* here; deciding to refuse or resample is the caller's.

    Raises
    ------
    NotAVolumeError
        All frames at one position with repeats, or two positions only.
    GeometryError
        Mixed orientations, positions off one line, or duplicates that are not a clean
        4th dimension.
    """
    if not frames:
        raise NotAVolumeError("no image frames")
    _check_frames(frames)
    first = frames[0]
    normal = first.normal
    pos = np.array([f.position for f in frames], dtype=np.float64)
    groups, warnings = _positions(frames, pos, normal)
    rep = np.array([pos[g[0]] for g in groups])
    if len(groups) == 1:
        thick = (
            first.slice_thickness if first.slice_thickness and first.slice_thickness > 0 else 1.0
        )
        return StackGeometry(
            order=groups,
            offsets=np.zeros(1),
            direction=normal,
            normal=normal,
            step=float(thick),
            tilt_deg=0.0,
            spacing=Spacing.EVEN,
            warnings=[*warnings, "single slice: slice spacing taken from SliceThickness"],
        )
    direction, offsets, tilt = _line(frames, groups, rep, normal)
    spacing, detail, step = _spacing(frames, groups, offsets)
    return StackGeometry(
        order=groups,
        offsets=offsets,
        direction=direction,
        normal=normal,
        step=step,
        tilt_deg=tilt,
        spacing=spacing,
        spacing_detail=detail,
        warnings=warnings,
    )


def _check_frames(frames: list[Frame]) -> None:
    """Every frame a valid plane, all of one orientation and matrix size."""
    first = frames[0]
    for f in frames:
        check_plane(f)
        if not same_orientation(f, first):
            raise GeometryError(
                "slices with different orientations in one stack "
                "(mixed ImageOrientationPatient); split the series or re-export it",
                path=f.path,
            )
        if (f.rows, f.cols) != (first.rows, first.cols):
            raise GeometryError("slices with different matrix sizes in one stack", path=f.path)


def _positions(
    frames: list[Frame], pos: npt.NDArray[np.float64], normal: npt.NDArray[np.float64]
) -> tuple[list[list[int]], list[str]]:
    """Frames grouped by slice position, sorted along the normal; repeats in acquisition
    order. Refuses duplicates that are not a clean 4th dimension and non-volumes."""
    along = pos @ normal
    idx = np.argsort(along, kind="stable")
    # cluster positions: same place when within SAME_POSITION_MM along the normal and in plane
    groups: list[list[int]] = []
    for i in idx:
        if groups:
            ref = groups[-1][0]
            if np.linalg.norm(pos[i] - pos[ref]) < SAME_POSITION_MM:
                groups[-1].append(int(i))
                continue
        groups.append([int(i)])

    warnings: list[str] = []
    counts = {len(g) for g in groups}
    if len(counts) > 1:
        groups, note = _drop_exact_duplicates(frames, groups)
        if note:
            warnings.append(note)
        counts = {len(g) for g in groups}
    if len(counts) > 1:
        worst = max(groups, key=len)
        raise GeometryError(
            f"duplicate slices: {len(worst)} images share the position of "
            f"{_name(frames[worst[0]])} while other positions have {min(counts)}; "
            "remove the duplicates or split the series",
            path=frames[worst[0]].path,
        )
    n_per = counts.pop()
    for g in groups:
        g.sort(key=lambda i: (frames[i].order_key, frames[i].instance_number or 0))

    if len(groups) == 1 and n_per > 1:
        raise NotAVolumeError(
            f"all {len(frames)} images lie at one slice position: repeated acquisitions of a "
            "single slice, not a volume"
        )
    if len(groups) == 2:
        raise NotAVolumeError(
            "only 2 slice positions: too few to verify even spacing and form a trustworthy volume"
        )
    return groups, warnings


def _line(
    frames: list[Frame],
    groups: list[list[int]],
    rep: npt.NDArray[np.float64],
    normal: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float]:
    """Direction of the line of slice positions, offsets along it, and the tilt: the
    angle between the line and the slice normal. Refuses positions off one line."""
    first = frames[0]
    span = rep[-1] - rep[0]
    length = float(np.linalg.norm(span))
    direction = span / length
    rel = rep - rep[0]
    offsets = rel @ direction
    off_line = np.linalg.norm(rel - np.outer(offsets, direction), axis=1)
    pixel = min(first.row_spacing, first.col_spacing)
    if float(off_line.max()) > max(0.05, 0.1 * pixel):
        far = int(np.argmax(off_line))
        raise GeometryError(
            f"slice positions do not lie on one line ({off_line.max():.2f} mm off at "
            f"{_name(frames[groups[far][0]])}); the series mixes stacks or is damaged",
            path=frames[groups[far][0]].path,
        )
    cos_tilt = float(np.clip(abs(direction @ normal), -1.0, 1.0))
    tilt = math.degrees(math.acos(cos_tilt))
    if tilt > 45.0:
        raise GeometryError(
            f"slice positions advance at {tilt:.1f} deg from the slice normal; "
            "not a stack of parallel slices",
            path=first.path,
        )
    return direction, offsets, tilt


def _spacing(
    frames: list[Frame], groups: list[list[int]], offsets: npt.NDArray[np.float64]
) -> tuple[Spacing, str, float]:
    """Classify the steps between slices: even, missing slices, or uneven (with drift)."""
    steps = np.diff(offsets)
    step = float(np.median(steps))
    tol = max(STEP_ATOL, STEP_RTOL * step)
    bad = np.abs(steps - step) > tol
    if np.any(bad):
        ratios = steps / step
        whole = np.abs(ratios - np.round(ratios)) * step <= tol
        if np.all(whole[bad]) and np.all(np.round(ratios[bad]) >= 2):
            missing = int(np.sum(np.round(ratios[bad]) - 1))
            k = int(np.argmax(bad))
            return (
                Spacing.MISSING,
                f"{missing} missing slice(s): gap of {steps[k]:.2f} mm after "
                f"{_name(frames[groups[k][0]])} where the step is {step:.2f} mm",
                step,
            )
        return (
            Spacing.UNEVEN,
            f"uneven slice spacing: steps from {steps.min():.2f} to {steps.max():.2f} mm "
            f"(median {step:.2f} mm)",
            step,
        )
    index = np.arange(len(offsets), dtype=np.float64)
    fit_step, fit_origin = np.polyfit(index, offsets, 1)
    drift = np.abs(offsets - (fit_origin + fit_step * index))
    if float(drift.max()) > max(DRIFT_ATOL_MM, DRIFT_RTOL * fit_step):
        at = int(np.argmax(drift))
        return (
            Spacing.UNEVEN,
            f"uneven slice spacing: positions drift up to {drift.max():.2f} mm from an even "
            f"{fit_step:.3f} mm grid (at {_name(frames[groups[at][0]])})",
            step,
        )
    return Spacing.EVEN, "", float(fit_step)


def _drop_exact_duplicates(
    frames: list[Frame], groups: list[list[int]]
) -> tuple[list[list[int]], str]:
    """Remove frames that are the same instance (same SOP Instance UID and frame) twice."""
    removed = 0
    out: list[list[int]] = []
    for g in groups:
        seen: set[Any] = set()
        keep = []
        for i in g:
            f = frames[i]
            ident = (f.meta.get("sop_uid") or f.path, f.frame_index, f.tile_index)
            if ident in seen:
                removed += 1
                continue
            seen.add(ident)
            keep.append(i)
        out.append(keep)
    note = f"{removed} duplicate image(s) of the same instance ignored" if removed else ""
    return out, note


def _name(frame: Frame) -> str:
    base = frame.path.replace("\\", "/").rsplit("/", 1)[-1]
    if frame.frame_index is not None:
        base += f" frame {frame.frame_index + 1}"
    if frame.instance_number is not None:
        base += f" (instance {frame.instance_number})"
    return base


#: a segmented stack's grid step is the finest segment step divided by at most this
MAX_GRID_DIVISOR = 8
#: every source slice lies within this fraction of its own segment's step of a grid plane
GRID_RTOL = 0.1


def analyse_segments(frames: list[Frame]) -> StackGeometry:
    """Measure stacks of one acquisition that are to be joined end to end.

    The frames' ``stack_key`` tells the segments apart (e.g. a thin posterior-fossa
    segment with ImageType ``ADD`` and a thick cerebrum segment). Each segment must be a
    stack of its own right; together they must share orientation and one line of
    positions, follow each other without interleaving, and leave no gap larger than the
    larger of their two steps.

    Parameters
    ----------
    frames : list of Frame
        Frames of every segment.

    Returns
    -------
    StackGeometry
        The geometry of the union, ``spacing`` :attr:`Spacing.SEGMENTED` and ``step`` the
        even grid to resample onto: the finest segment step divided by the smallest whole
        number that puts every source slice within ``GRID_RTOL`` of its own step of a grid
        plane (so no slice is blurred by its neighbours). A segment that is itself
        missing slices or uneven makes the union's spacing that of the segment, with the
        reason, so that strict mode refuses it.

    Raises
    ------
    GeometryError, NotAVolumeError
        The segments cannot be joined (a segment is not a stack, they interleave or
        overlap, leave a gap, differ in orientation, or lie on different lines).
    """
    by_key: dict[tuple[Any, ...], list[Frame]] = {}
    for f in frames:
        by_key.setdefault(f.stack_key, []).append(f)
    if len(by_key) < 2:
        raise GeometryError("fewer than two segments to join")
    parts = {key: analyse(fs) for key, fs in by_key.items()}
    if len({p.n_volumes for p in parts.values()}) > 1:
        raise GeometryError("segments differ in the number of repeated acquisitions")
    whole = analyse(frames)
    key_of = [f.stack_key for f in frames]
    # each slice position of the union: its segment and its offset along the union's line
    seg_of_slice = [key_of[group[0]] for group in whole.order]
    runs: list[tuple[tuple[Any, ...], int, int]] = []  # segment, first slice, last slice
    for k, key in enumerate(seg_of_slice):
        if runs and runs[-1][0] == key:
            runs[-1] = (key, runs[-1][1], k)
        else:
            runs.append((key, k, k))
    if len(runs) != len(parts):
        raise GeometryError("segments interleave: slices of one lie between slices of another")
    offsets = whole.offsets
    steps = {key: abs(parts[key].step) for key in parts}
    for (key_a, _, last_a), (key_b, first_b, _) in itertools.pairwise(runs):
        gap = float(offsets[first_b] - offsets[last_a])
        allowed = max(steps[key_a], steps[key_b]) * (1 + STEP_RTOL) + STEP_ATOL
        if gap > allowed:
            raise GeometryError(
                f"gap of {gap:.2f} mm between segments, more than their spacing "
                f"({max(steps[key_a], steps[key_b]):.2f} mm)"
            )
    finest = min(steps.values())
    slice_tol = np.array([GRID_RTOL * steps[key] for key in seg_of_slice])
    grid = finest
    for divisor in range(1, MAX_GRID_DIVISOR + 1):
        grid = finest / divisor
        distance = np.abs(offsets - np.round(offsets / grid) * grid)
        if np.all(distance <= np.maximum(slice_tol, STEP_ATOL)):
            break
    described = "; ".join(
        f"{len(parts[key].order)} slices every {steps[key]:.2f} mm" for key, _, _ in runs
    )
    spacing, detail = (
        Spacing.SEGMENTED,
        (
            f"{len(runs)} segments of one acquisition joined ({described}), resampled onto "
            f"{grid:.3f} mm"
        ),
    )
    for n, (key, _, _) in enumerate(runs, start=1):
        if parts[key].spacing is not Spacing.EVEN:
            spacing = parts[key].spacing
            detail = f"segment {n} of {len(runs)}: {parts[key].spacing_detail}"
            break
    return StackGeometry(
        order=whole.order,
        offsets=offsets,
        direction=whole.direction,
        normal=whole.normal,
        step=grid,
        tilt_deg=whole.tilt_deg,
        spacing=spacing,
        spacing_detail=detail,
        warnings=[w for p in parts.values() for w in p.warnings],
        segments=len(runs),
    )
