"""Attributes the profile table does not list that are kept: the explicit allow list."""

from __future__ import annotations

#: free-text attributes the table does not list that are kept anyway: technical descriptions
#: of the acquisition or of coded concepts, needed by converters, never about the patient
KEEP_UNLISTED_TEXT: frozenset[int] = frozenset(
    {
        0x00080070,  # Manufacturer
        0x00080100,  # Code Value
        0x00080102,  # Coding Scheme Designator
        0x00080103,  # Coding Scheme Version
        0x00080104,  # Code Meaning
        0x00081090,  # Manufacturer's Model Name
        0x00180024,  # Sequence Name
        0x00180085,  # Imaged Nucleus
        0x00181020,  # Software Versions
        0x00181160,  # Filter Type
        0x00181210,  # Convolution Kernel
        0x00181250,  # Receive Coil Name
        0x00181251,  # Transmit Coil Name
        0x00189005,  # Pulse Sequence Name
        0x00189041,  # Receive Coil Manufacturer Name
        0x00189047,  # Multi-Coil Element Name
        0x00189050,  # Transmit Coil Manufacturer Name
        0x00209056,  # Stack ID
        0x00209213,  # Dimension Index Private Creator
        0x00209238,  # Functional Group Private Creator
        0x00209421,  # Dimension Description Label
        0x00281054,  # Rescale Type
        0x00281055,  # Window Center & Width Explanation
        0x00409210,  # LUT Label
    }
)
