"""DICOMweb in and out: search and retrieve studies from a PACS, send reports back.

One concept per module:

- :mod:`~imaging_triage.pacs.config`: server URL, authentication and TLS settings (from the
  environment or a config file, never from the command line).
- :mod:`~imaging_triage.pacs.client`: the DICOMweb client (``dicomweb-client``) with typed errors.
- :mod:`~imaging_triage.pacs.query`: QIDO-RS study and series searches.
- :mod:`~imaging_triage.pacs.layout`: folder and file names of a pull (no identifiers).
- :mod:`~imaging_triage.pacs.manifest`: the per-study manifest of a pull.
- :mod:`~imaging_triage.pacs.anonymize`: de-identification on the way in.
- :mod:`~imaging_triage.pacs.retrieve`: WADO-RS retrieval streamed to disk, resumable.
- :mod:`~imaging_triage.pacs.stow`: STOW-RS sending (structured reports).
- :mod:`~imaging_triage.pacs.api`: the small typed facade a viewer panel calls.

Heavy libraries (``requests``, ``dicomweb-client``, ``pydicom``) are imported by the modules
that need them, not here.
"""
