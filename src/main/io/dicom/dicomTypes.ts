import type { Vec3, VolumeGeometry } from '../../../shared/geometry'
import type { VoxelArray } from '../../../shared/volume'

/**
 * The contract between the DICOM modules: scanning (index), image series reading, SUV, and the
 * segmentation readers/writers (SEG, RTSTRUCT). Headers are dcmjs "naturalized" datasets (keyword →
 * value), the form @cornerstonejs/calculate-suv and dcmjs's derivations use.
 */
export type NaturalizedDataset = Record<string, unknown>

/** One image frame of a series as it lands on the volume grid. */
export interface DicomFrameRef {
  filePath: string
  sopInstanceUid: string
  sopClassUid: string
  /** 1-based frame number within a multi-frame instance; 1 for single-frame files. */
  frameNumber: number
  imagePositionPatient: Vec3
}

export interface DicomSeriesSummary {
  studyInstanceUid: string
  seriesInstanceUid: string
  frameOfReferenceUid?: string
  modality: string
  seriesDescription: string
  seriesDate?: string
  seriesTime?: string
  seriesNumber?: number
  patientId?: string
  patientName?: string
  /** Number of files in the series. */
  instanceCount: number
  /** Number of image frames (slices) across the files. */
  frameCount: number
  files: string[]
}

export interface DicomStudySummary {
  studyInstanceUid: string
  patientId?: string
  patientName?: string
  studyDate?: string
  studyDescription?: string
  series: DicomSeriesSummary[]
}

/** An image series read onto a regular grid. */
export interface DicomImageSeries {
  summary: DicomSeriesSummary
  geometry: VolumeGeometry
  /** Stored values after per-slice RescaleSlope/Intercept (HU for CT, the series' Units for PET). */
  voxels: VoxelArray
  /** The source frame of each slice k (when the grid was resampled to even spacing: the nearest). */
  slices: DicomFrameRef[]
  /** Header of the first instance (per-frame functional groups left in place). */
  firstHeader: NaturalizedDataset
  /** Header of every source instance, in slice order (single-frame series), for per-slice timing. */
  instanceHeaders: NaturalizedDataset[]
  warnings: string[]
}
