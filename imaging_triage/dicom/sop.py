"""SOP classes that never hold an image volume (PS3.4 Annex B, PS3.6 Annex A).

Exports put such objects into image series: raw data (Philips compressed sense, Siemens
XA), structured reports, presentation states, key object selections, waveforms,
encapsulated documents, vendors' private non-image objects. They are recognised by their
SOP Class UID, dropped with a reason, and never counted as damaged members of the series
beside them.
"""

from __future__ import annotations

#: exact SOP Class UIDs of objects without an image (or without an image we could place)
NON_IMAGE_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.66": "Raw Data Storage",
    "1.2.840.10008.5.1.4.1.1.66.1": "Spatial Registration Storage",
    "1.2.840.10008.5.1.4.1.1.66.2": "Spatial Fiducials Storage",
    "1.2.840.10008.5.1.4.1.1.66.3": "Deformable Spatial Registration Storage",
    "1.2.840.10008.5.1.4.1.1.66.5": "Surface Segmentation Storage",
    "1.2.840.10008.5.1.4.1.1.67": "Real World Value Mapping Storage",
    "1.2.840.10008.5.1.4.1.1.4.2": "MR Spectroscopy Storage",
    "1.2.840.10008.5.1.4.1.1.104.1": "Encapsulated PDF Storage",
    "1.2.840.10008.5.1.4.1.1.104.2": "Encapsulated CDA Storage",
    "1.2.840.10008.5.1.4.1.1.104.3": "Encapsulated STL Storage",
    "1.2.840.10008.5.1.4.1.1.481.3": "RT Structure Set Storage",
    "1.2.840.10008.5.1.4.1.1.481.5": "RT Plan Storage",
    "1.3.12.2.1107.5.9.1": "Siemens CSA Non-Image Storage",
    "1.3.46.670589.11.0.0.12.1": "Philips Private MR Spectrum Storage",
    "1.3.46.670589.11.0.0.12.2": "Philips Private MR Series Data Storage",
    "1.3.46.670589.11.0.0.12.4": "Philips Private MR Examcard Storage",
}

#: SOP Class UID prefixes of whole families of non-image objects
NON_IMAGE_SOP_FAMILIES = {
    "1.2.840.10008.5.1.4.1.1.88.": "Structured Report or Key Object Selection",
    "1.2.840.10008.5.1.4.1.1.11.": "Presentation State",
    "1.2.840.10008.5.1.4.1.1.9.": "Waveform",
}


def non_image_name(sop_class_uid: str) -> str | None:
    """Name of a non-image SOP class, or ``None`` when the class may hold an image.

    Examples
    --------
    >>> non_image_name("1.2.840.10008.5.1.4.1.1.66")
    'Raw Data Storage'
    >>> non_image_name("1.2.840.10008.5.1.4.1.1.88.22")
    'Structured Report or Key Object Selection'
    >>> non_image_name("1.2.840.10008.5.1.4.1.1.2") is None
    True
    """
    uid = sop_class_uid.strip()
    if uid in NON_IMAGE_SOP_CLASSES:
        return NON_IMAGE_SOP_CLASSES[uid]
    for prefix, name in NON_IMAGE_SOP_FAMILIES.items():
        if uid.startswith(prefix):
            return name
    return None
