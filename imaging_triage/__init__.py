"""imaging_triage: triage of headache head CT and MR.

Ingest (DICOM and NIfTI to volumes with correct geometry), preprocessing, and a local
review viewer. Automated outputs are candidates for a human reader to review, never a
diagnosis.
"""

import logging

from imaging_triage.errors import TriageError
from imaging_triage.volume import SeriesInfo, Volume, load_nifti, save_nifti

__all__ = ["SeriesInfo", "TriageError", "Volume", "load_nifti", "save_nifti"]
__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
