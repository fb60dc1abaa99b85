"""Stacks: the frames of one series that make one volume, and how they are told apart.

A series is split into stacks where orientation, image type, echo, matrix or pixel
spacing differ (:mod:`~imaging_triage.dicom.series` groups frames by their
``stack_key``). Stacks of one acquisition that differ only in slice thickness and
spacing, or in ImageType values 4 and beyond (a GE head CT's thin posterior-fossa
segment ``ORIGINAL\\PRIMARY\\AXIAL\\ADD`` and thick cerebrum segment), are joined back
into one stack when their geometry allows it
(:func:`~imaging_triage.dicom.geometry.analyse_segments`). Stacks that remain apart get a
label saying what distinguishes them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from imaging_triage.dicom.frame import Frame
from imaging_triage.dicom.geometry import analyse_segments, same_orientation
from imaging_triage.errors import TriageError

logger = logging.getLogger(__name__)

#: position of ImageType in the stack key of a classic frame (see series.frame_from_classic)
IMAGE_TYPE_AT = 3
#: length of a classic frame's stack key
CLASSIC_KEY_LENGTH = 11


@dataclass
class Stack:
    """Frames of one (future) volume and the series header they came with.

    Attributes
    ----------
    key : str
        Stable identifier of the stack (becomes the record key).
    frames : list of Frame
        The frames.
    header : dict
        Series-level header summary of the first file.
    joined : int
        Number of segments joined into this stack (1: not joined).
    """

    key: str
    frames: list[Frame]
    header: dict[str, Any]
    joined: int = 1


def stack_id(*parts: Any) -> str:
    """Short stable hash of ``parts`` (no identifiers survive hashing)."""
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]


def split_by_orientation(frames: list[Frame]) -> list[list[Frame]]:
    """Cluster frames whose orientation cosines agree within tolerance."""
    clusters: list[list[Frame]] = []
    for f in frames:
        for c in clusters:
            if same_orientation(c[0], f):
                c.append(f)
                break
        else:
            clusters.append([f])
    return clusters


def build_stacks(
    groups: Mapping[tuple[Any, ...], tuple[list[Frame], dict[str, Any]]],
) -> list[Stack]:
    """One stack per stack key and orientation.

    Parameters
    ----------
    groups : mapping
        ``stack_key -> (frames, header)``.
    """
    out = []
    for skey, (frames, header) in groups.items():
        for n, cluster in enumerate(split_by_orientation(frames)):
            out.append(Stack(stack_id("stack", skey, n), cluster, header))
    return out


def _is_classic(stack: Stack) -> bool:
    f = stack.frames[0]
    return f.frame_index is None and f.tile_index is None and len(f.stack_key) == CLASSIC_KEY_LENGTH


def _join_key(stack: Stack) -> tuple[Any, ...]:
    """What segments of one acquisition share: the stack key with ImageType cut to 3 values."""
    key = stack.frames[0].stack_key
    image_type = tuple(key[IMAGE_TYPE_AT])[:3]
    return (*key[:IMAGE_TYPE_AT], image_type, *key[IMAGE_TYPE_AT + 1 :])


def _try_join(parts: list[Stack]) -> Stack | None:
    """The stacks joined into one, or None when their geometry does not allow it."""
    frames = [f for p in parts for f in p.frames]
    try:
        analyse_segments(frames)
    except (TriageError, ValueError, FloatingPointError, ZeroDivisionError) as err:
        # the reason only: a path may name the patient
        logger.debug("%d stacks not joined: %s", len(parts), getattr(err, "reason", type(err)))
        return None
    key = stack_id("joined", *sorted(p.key for p in parts))
    logger.debug("%d stacks joined as segments of one acquisition (%s)", len(parts), key[:8])
    return Stack(key, frames, parts[0].header, joined=len(parts))


def _thickness_runs(stack: Stack) -> list[Stack] | None:
    """A stack whose slices have several thicknesses, split by thickness (frames re-keyed)."""
    thick = {round(f.slice_thickness or 0.0, 3) for f in stack.frames}
    if len(thick) < 2 or not _is_classic(stack):
        return None
    runs: dict[float, list[Frame]] = defaultdict(list)
    for f in stack.frames:
        t = round(f.slice_thickness or 0.0, 3)
        runs[t].append(dataclasses.replace(f, stack_key=(*f.stack_key, ("thickness", t))))
    return [Stack(stack_id(stack.key, t), fs, stack.header) for t, fs in runs.items()]


def join_segments(stacks: list[Stack]) -> list[Stack]:
    """Join stacks that are segments of one acquisition; leave every other stack alone.

    Two kinds of segments are recognised, in classic (one file per slice) series only:
    runs of one stack with different SliceThickness, and stacks of one series whose
    stack keys differ only in ImageType values 4 and beyond. They are joined when
    :func:`~imaging_triage.dicom.geometry.analyse_segments` accepts them (same
    orientation, one line of positions, no interleaving, no gap beyond their spacing).
    """
    out: list[Stack] = []
    for stack in stacks:
        runs = _thickness_runs(stack)
        joined = _try_join(runs) if runs else None
        out.append(joined or stack)
    buckets: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for n, stack in enumerate(out):
        if stack.joined == 1 and _is_classic(stack):
            normal = tuple(np.round(stack.frames[0].normal, 3))
            buckets[(_join_key(stack), normal)].append(n)
    replaced: dict[int, Stack | None] = {}
    for members in buckets.values():
        if len(members) < 2:
            continue
        joined = _try_join([out[n] for n in members])
        if joined is not None:
            replaced[members[0]] = joined
            for n in members[1:]:
                replaced[n] = None
    result: list[Stack] = []
    for n, stack in enumerate(out):
        chosen = replaced.get(n, stack)
        if chosen is not None:
            result.append(chosen)
    return result


def orientation_name(frame: Frame) -> str:
    """``"axial"``, ``"coronal"`` or ``"sagittal"``: the patient axis nearest the normal.

    Examples
    --------
    >>> f = Frame("x", None, None, (0, 0, 0), (1, 0, 0), (0, 1, 0), 1.0, 1.0, 2, 2)
    >>> orientation_name(f)
    'axial'
    """
    axis = int(np.argmax(np.abs(frame.normal)))
    return ("sagittal", "coronal", "axial")[axis]


def _facts(stack: Stack) -> dict[str, str]:
    f = stack.frames[0]
    image_type = f.meta.get("image_type") or ()
    facts = {
        "orientation": orientation_name(f),
        "image type": "\\".join(image_type[2:]) if len(image_type) > 2 else "\\".join(image_type),
        "kernel": str(f.meta.get("kernel") or ""),
        "matrix": f"{f.cols}x{f.rows}",
        "pixel spacing": f"{f.col_spacing:g}x{f.row_spacing:g} mm",
        "thickness": f"{f.slice_thickness:g} mm" if f.slice_thickness else "",
    }
    kind = f.meta.get("role")
    facts["role"] = str(getattr(kind, "value", kind or ""))
    echo = f.meta.get("EchoTime")
    if echo is not None:
        facts["echo"] = f"TE {float(echo):g} ms"
    frame_type = f.meta.get("FrameType")
    if frame_type:
        facts["frame type"] = str(frame_type)
    return facts


def stack_label(stack: Stack, siblings: list[Stack]) -> str:
    """What tells ``stack`` apart from the other stacks of its series, for a series list.

    The values of every property that differs between the siblings (orientation, image
    type, kernel, matrix, pixel spacing, thickness, echo), or ``"stack N of M"`` when
    they share all of them.
    """
    facts = [_facts(s) for s in siblings]
    mine = _facts(stack)
    differing = [k for k in mine if len({f.get(k, "") for f in facts}) > 1 and mine[k]]
    if differing:
        return ", ".join(mine[k] for k in differing)
    index = next((n for n, s in enumerate(siblings) if s is stack), 0)
    return f"stack {index + 1} of {len(siblings)}"
