"""DICOM reading: discovery, series grouping, pixel assembly and de-identification."""
