export type {
  DicomFrameRef,
  DicomImageSeries,
  DicomSeriesSummary,
  DicomStudySummary,
  NaturalizedDataset,
} from './dicomTypes'
export { pickPetAndCt, scanDicom, type ScanOptions, type ScanResult } from './scanDicom'
export { readDicomImageSeries, type ReadSeriesOptions } from './readDicomSeries'
