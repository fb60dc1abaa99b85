"""DICOM reading: discovery, series grouping, pixel assembly and de-identification.

Importing this package sets pydicom's reading validation to *ignore*: pydicom's
validation warnings quote the offending header values, which may be patient
identifiers, and the package must never log those. Values that matter are checked
where they are used, with typed errors that name the attribute, not its content.
"""

import pydicom.config

pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
