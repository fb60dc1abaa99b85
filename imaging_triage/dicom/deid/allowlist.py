"""Attributes the profile table does not list that are kept: the explicit allow list.

The Basic Profile keeps every attribute its table does not list; vendors put names,
serial numbers and free text in such attributes (even in coded-string and binary ones, and
inside kept sequences). Here an attribute the table does not list is **removed** unless it
is in :data:`KEEP_UNLISTED`: what a converter or the viewer needs (image pixel description,
geometry, value transformation, CT and MR acquisition parameters, enhanced multi-frame
functional groups, coded concepts) and what keeps the object valid. Dates are handled
apart (shifted or removed) and UIDs are mapped (registered class UIDs kept).

``tests/dicom/test_deid.py`` checks that every header attribute the ingest reads is either
in the table, in this list, or deliberately removed (:data:`REMOVED_ALTHOUGH_READ`).
"""

from __future__ import annotations

from pydicom.datadict import tag_for_keyword

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

#: keywords of the other unlisted attributes kept, by what needs them
_KEEP_KEYWORDS: dict[str, tuple[str, ...]] = {
    "object": (
        "SpecificCharacterSet",
        "Modality",
        "ImageType",
        "SeriesNumber",
        "InstanceNumber",
        "AcquisitionNumber",
        "PatientOrientation",
        "PatientPosition",
        "BurnedInAnnotation",
        "RecognizableVisualFeatures",
        "PresentationIntentType",
        "ContentQualification",
        "ImagesInAcquisition",
        "QualityControlImage",
        "LossyImageCompression",
        "LossyImageCompressionRatio",
        "LossyImageCompressionMethod",
    ),
    "pixels": (
        "SamplesPerPixel",
        "PhotometricInterpretation",
        "Rows",
        "Columns",
        "BitsAllocated",
        "BitsStored",
        "HighBit",
        "PixelRepresentation",
        "PlanarConfiguration",
        "PixelAspectRatio",
        "NumberOfFrames",
        "FrameIncrementPointer",
        "PixelPaddingValue",
        "PixelPaddingRangeLimit",
        "SmallestImagePixelValue",
        "LargestImagePixelValue",
        "PixelData",
        "FloatPixelData",
        "DoubleFloatPixelData",
        "ExtendedOffsetTable",
        "ExtendedOffsetTableLengths",
    ),
    "geometry": (
        "ImagePositionPatient",
        "ImageOrientationPatient",
        "PixelSpacing",
        "SliceThickness",
        "SpacingBetweenSlices",
        "SliceLocation",
        "GantryDetectorTilt",
        "TableHeight",
        "VolumetricProperties",
        "VolumeBasedCalculationTechnique",
    ),
    "values": (
        "RescaleIntercept",
        "RescaleSlope",
        "WindowCenter",
        "WindowWidth",
        "VOILUTFunction",
        "ModalityLUTSequence",
        "VOILUTSequence",
        "LUTDescriptor",
        "LUTData",
        "ModalityLUTType",
        "PixelPresentation",
    ),
    "ct": (
        "KVP",
        "DataCollectionDiameter",
        "ReconstructionDiameter",
        "DistanceSourceToDetector",
        "DistanceSourceToPatient",
        "RotationDirection",
        "ExposureTime",
        "XRayTubeCurrent",
        "Exposure",
        "ExposureInuAs",
        "GeneratorPower",
        "FocalSpots",
        "RevolutionTime",
        "SingleCollimationWidth",
        "TotalCollimationWidth",
        "TableSpeed",
        "TableFeedPerRotation",
        "SpiralPitchFactor",
        "CTDIvol",
        "ScanOptions",
        "DataCollectionCenterPatient",
        "ReconstructionTargetCenterPatient",
    ),
    "mr": (
        "ScanningSequence",
        "SequenceVariant",
        "MRAcquisitionType",
        "AngioFlag",
        "RepetitionTime",
        "EchoTime",
        "InversionTime",
        "NumberOfAverages",
        "ImagingFrequency",
        "EchoNumbers",
        "MagneticFieldStrength",
        "NumberOfPhaseEncodingSteps",
        "EchoTrainLength",
        "PercentSampling",
        "PercentPhaseFieldOfView",
        "PixelBandwidth",
        "AcquisitionMatrix",
        "InPlanePhaseEncodingDirection",
        "FlipAngle",
        "VariableFlipAngleFlag",
        "SAR",
        "dBdt",
        "TriggerTime",
        "TemporalPositionIdentifier",
        "NumberOfTemporalPositions",
        "TemporalResolution",
        "DiffusionBValue",
        "DiffusionGradientOrientation",
        "DiffusionDirectionality",
        "ComplexImageComponent",
        "AcquisitionContrast",
        "EffectiveEchoTime",
        "InversionTimes",
        "ParallelReductionFactorInPlane",
        "ParallelAcquisition",
        "ParallelAcquisitionTechnique",
        "ResonantNucleus",
        "KSpaceFiltering",
        "MagneticFieldStrength",
    ),
    "multi-frame": (
        "SharedFunctionalGroupsSequence",
        "PerFrameFunctionalGroupsSequence",
        "PixelMeasuresSequence",
        "PlanePositionSequence",
        "PlaneOrientationSequence",
        "PixelValueTransformationSequence",
        "FrameVOILUTSequence",
        "FrameContentSequence",
        "FrameAcquisitionNumber",
        "DimensionIndexValues",
        "InStackPositionNumber",
        "TemporalPositionIndex",
        "DimensionIndexSequence",
        "DimensionIndexPointer",
        "FunctionalGroupPointer",
        "DimensionOrganizationSequence",
        "DimensionOrganizationType",
        "MRImageFrameTypeSequence",
        "CTImageFrameTypeSequence",
        "PETFrameTypeSequence",
        "XAXRFFrameCharacteristicsSequence",
        "FrameType",
        "MREchoSequence",
        "MRTimingAndRelatedParametersSequence",
        "MRModifierSequence",
        "MRImagingModifierSequence",
        "MRFOVGeometrySequence",
        "MRAveragesSequence",
        "MRDiffusionSequence",
        "DiffusionGradientDirectionSequence",
        "DiffusionBMatrixSequence",
        "CTAcquisitionTypeSequence",
        "CTAcquisitionDetailsSequence",
        "CTGeometrySequence",
        "CTReconstructionSequence",
        "CTExposureSequence",
        "CTXRayDetailsSequence",
        "CTPositionSequence",
        "AcquisitionType",
        "ReconstructionAlgorithm",
    ),
    "codes": (
        "LongCodeValue",
        "URNCodeValue",
        "ContextIdentifier",
        "MappingResource",
        "AnatomicRegionSequence",
        "PurposeOfReferenceCodeSequence",
        "DerivationCodeSequence",
    ),
    "references": (  # their UIDs are mapped like every UID, so references stay consistent
        "ReferencedSeriesSequence",
        "ReferencedImageSequence",
        "ReferencedInstanceSequence",
        "SourceImageSequence",
        "DerivationImageSequence",
        "ReferencedFrameNumber",
    ),
    "de-identification": (
        "PatientIdentityRemoved",
        "DeidentificationMethod",
        "DeidentificationMethodCodeSequence",
        "LongitudinalTemporalInformationModified",
    ),
}

#: attributes the ingest reads that are deliberately removed (they may hold identity and
#: nothing depends on them: the sidecar just lacks them)
REMOVED_ALTHOUGH_READ: frozenset[str] = frozenset(
    {"BodyPartExamined", "Laterality", "PositionReferenceIndicator", "ProtocolName"}
)


def _tags(keywords: dict[str, tuple[str, ...]]) -> frozenset[int]:
    tags = set()
    for names in keywords.values():
        for name in names:
            tag = tag_for_keyword(name)
            if tag is None:
                raise ValueError(f"{name} is not a DICOM keyword")
            tags.add(int(tag))
    return frozenset(tags)


#: every unlisted attribute kept (others are removed): tags
KEEP_UNLISTED: frozenset[int] = KEEP_UNLISTED_TEXT | _tags(_KEEP_KEYWORDS)
