"""The small typed facade a viewer panel calls: list studies, pull one into a data root.

Examples
--------
>>> from imaging_triage.pacs.api import list_studies, pull_into_root   # doctest: +SKIP
>>> studies = list_studies("https://pacs/dicom-web", StudyQuery(modality="CT"))  # doctest: +SKIP
>>> pulled = pull_into_root("https://pacs/dicom-web", studies[0].study_uid, roots,
...     progress=lambda done, total: bar.progress(done / max(total, 1)))  # doctest: +SKIP
>>> pulled.folder  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

from imaging_triage.pacs.anonymize import Deidentifier, default_key_path, load_or_create_key
from imaging_triage.pacs.client import connect
from imaging_triage.pacs.config import load_config
from imaging_triage.pacs.query import StudyQuery, StudySummary, search_studies
from imaging_triage.pacs.retrieve import ProgressCallback, StudyPull, pull_study
from imaging_triage.roots import DataRoots

#: folder under the first data root that pulls go to by default
DEFAULT_FOLDER = "pacs"

__all__ = [
    "DEFAULT_FOLDER",
    "StudyPull",
    "StudyQuery",
    "StudySummary",
    "list_studies",
    "pull_into_root",
]


def list_studies(
    url: str,
    query: StudyQuery | None = None,
    *,
    config_file: str | os.PathLike[str] | None = None,
) -> list[StudySummary]:
    """The studies on the server at ``url`` matching ``query`` (all when None), oldest first.

    Credentials come from the environment or ``config_file`` (see
    :mod:`imaging_triage.pacs.config`).

    Raises
    ------
    ConfigError
        If the URL or the settings are unusable.
    PacsError
        A typed subclass: unreachable, credentials refused, bad answer.
    """
    client = connect(load_config(url, config_file=config_file))
    return search_studies(client, query or StudyQuery())


def pull_into_root(
    url: str,
    study_uid: str,
    roots: DataRoots,
    folder: str | os.PathLike[str] = DEFAULT_FOLDER,
    *,
    progress: ProgressCallback | None = None,
    deidentify: bool = False,
    config_file: str | os.PathLike[str] | None = None,
) -> StudyPull:
    """Pull one study into ``folder`` under the data roots (default ``<first root>/pacs``).

    Resumable: pulling the same study again fetches only what is missing. ``progress``
    is called as ``progress(done, total)`` in instances.

    Raises
    ------
    PathOutsideRootError
        If ``folder`` resolves outside the data roots.
    PacsNotFoundError
        If the study is not on the server.
    PacsError, ConfigError
        As :func:`list_studies`.
    """
    out: Path = roots.resolve(folder)
    client = connect(load_config(url, config_file=config_file))
    deid = Deidentifier(load_or_create_key(default_key_path(out))) if deidentify else None
    return pull_study(client, study_uid, out, deidentifier=deid, progress=progress)
