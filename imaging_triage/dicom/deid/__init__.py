"""De-identification of DICOM files: PS3.15 Annex E Basic Application Level Confidentiality Profile.

What is done to every dataset (and, recursively, to every item of every kept sequence):

* the actions of PS3.15 Table E.1-1 (:mod:`imaging_triage.dicom.deid.table`, generated from
  the machine-readable standard) are applied: ``D`` dummy value, ``Z`` empty value, ``X``
  removed, ``K`` kept, ``C`` cleaned (treated as ``D``), ``U`` UID replaced. Compound codes
  are resolved to the choice that leaks nothing *and* keeps the object valid whatever the
  IOD says of the attribute: ``X/Z`` -> ``Z``, ``X/D``, ``Z/D``, ``X/Z/D`` -> ``D``, and
  ``X/Z/U*`` -> keep the sequence, with its items de-identified (their UIDs replaced);
* every private attribute (odd group) is removed, and so are curves (``50xx``) and whole
  overlay planes (``60xx``: the table removes overlay data and comments, and an overlay plane
  without its data is invalid). With ``keep_safe_private`` (the Retain Safe Private Option)
  the few private elements of :data:`SAFE_PRIVATE` that converters need are kept: Siemens
  mosaics cannot be rebuilt without them. The Siemens CSA image header among them is scrubbed
  first (:func:`scrub_csa`: every field outside :data:`CSA_KEEP` zeroed);
* values that do not match their VR (text in a DS/IS field, letters in a date) are removed;
  a file whose geometry or pixel description does not parse is refused;
* beyond the table (the profile keeps unlisted attributes; this package does not trust that
  a vendor left no name in them, whatever the VR): an attribute the table does not list is
  removed unless it is on the allow list
  (:data:`~imaging_triage.dicom.deid.allowlist.KEEP_UNLISTED`: what a converter or the
  viewer needs, e.g. the pixel description, geometry, acquisition parameters, functional
  groups, coded concepts), at every depth; unlisted ``UN`` attributes are always removed;
* UIDs are replaced by ``2.25.<int>`` derived from an HMAC-SHA-256 of the original UID with a
  secret key (:class:`UidMapper`): the same key gives the same UIDs, so study, series and frame
  of reference grouping survive across files and runs; registered UIDs (SOP classes, transfer
  syntaxes) are kept, and a ``...ClassUID`` value that is not a registered class is mapped;
* dates are removed (the table's action), or, with a date shift, every date (DA, and the date
  part of DT) is moved by the same number of days; times are then kept;
* PatientIdentityRemoved = YES, DeidentificationMethod and DeidentificationMethodCodeSequence
  (113100, DCM, Basic Application Confidentiality Profile; 113107 when dates are shifted) and
  LongitudinalTemporalInformationModified are recorded; the file meta's
  MediaStorageSOPInstanceUID follows the new SOP Instance UID.

Geometry is untouched: ImagePositionPatient, ImageOrientationPatient, PixelSpacing,
SliceThickness, rescale, pixel data and the per-frame functional groups are not in the table,
and FrameOfReferenceUID is mapped like every UID, so the copy converts to the same volumes.

The package has one module per concept: ``table`` (generated), ``actions``, ``values``,
``dates``, ``keys``, ``private``, ``allowlist``, ``burned_in``, ``config``, ``cleaner`` (one
dataset), ``reading`` (one file) and ``tree`` (a folder, the report and the UID map).

Images that may carry identity in their pixels (BurnedInAnnotation YES, secondary captures,
screen captures, photographs, encapsulated documents, ultrasound not declared free of burned-in
text) are refused with :class:`~imaging_triage.errors.DeidentificationError` unless allowed:
this module does not read text in pixels.

Examples
--------
>>> config = DeidConfig(key=b"a secret kept apart from the data", date_shift_days=-100)
>>> report = deidentify_tree("in", "out", config, map_path="private/out.map.json")  # doctest: +SKIP
>>> report.counts()  # doctest: +SKIP
{'written': 28, 'quarantined': 1, 'failed': 0, 'skipped': 2}
"""

from __future__ import annotations

from imaging_triage.dicom.deid.actions import Action, resolve_action, table_action
from imaging_triage.dicom.deid.burned_in import burned_in_reason, clear_unused_pixel_bits
from imaging_triage.dicom.deid.cleaner import deidentify_dataset
from imaging_triage.dicom.deid.config import DeidConfig
from imaging_triage.dicom.deid.keys import UidMapper, keyed_date_shift, keyed_uid, random_key
from imaging_triage.dicom.deid.private import CSA_KEEP, SAFE_PRIVATE, scrub_csa
from imaging_triage.dicom.deid.tree import (
    DeidReport,
    FileOutcome,
    FileStatus,
    default_map_path,
    deidentify_file,
    deidentify_tree,
    iter_files,
)

__all__ = [
    "CSA_KEEP",
    "SAFE_PRIVATE",
    "Action",
    "DeidConfig",
    "DeidReport",
    "FileOutcome",
    "FileStatus",
    "UidMapper",
    "burned_in_reason",
    "clear_unused_pixel_bits",
    "default_map_path",
    "deidentify_dataset",
    "deidentify_file",
    "deidentify_tree",
    "iter_files",
    "keyed_date_shift",
    "keyed_uid",
    "random_key",
    "resolve_action",
    "scrub_csa",
    "table_action",
]
