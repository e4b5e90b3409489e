import dcmjs, { type DicomDataDict } from 'dcmjs'
import type { NaturalizedDataset } from '../dicomTypes'

/**
 * The parts of dcmjs 0.52 the SEG writer needs beyond the shared declaration in ../dcmjs.d.ts (which
 * asks to be the only `declare module 'dcmjs'`: a second ambient declaration would clash). Typed here
 * as a plain interface and reached through one cast, checked against node_modules/dcmjs/build/dcmjs.es.js.
 */
export interface DcmjsSegmentationDerivation {
  dataset: NaturalizedDataset & { PerFrameFunctionalGroupsSequence: NaturalizedDataset[]; SegmentSequence: NaturalizedDataset[] }
  /** Allocates the (not yet bit-packed) pixel buffer: one byte per pixel per frame. */
  setNumberOfFrames(numberOfFrames: number): void
  /**
   * Appends one segment: its frames' pixels (0/1, frame after frame), its metadata (renumbered to
   * SegmentSequence.length + 1) and one per-frame functional group per referenced frame number.
   */
  addSegment(segment: NaturalizedDataset, pixelData: Uint8Array, referencedFrameNumbers: number[]): void
  /** Packs all frames into 1 bit per pixel, continuously across frame boundaries (PS3.5 8.1.1). */
  bitPackPixelData(): void
}

interface DcmjsSegApi {
  data: {
    DicomDict: new (meta: DicomDataDict) => { dict: DicomDataDict; write(options?: { allowInvalidVRLength?: boolean }): ArrayBuffer }
    DicomMetaDictionary: { denaturalizeDataset(dataset: NaturalizedDataset): DicomDataDict }
    Colors: {
      /** sRGB in 0..1 to DICOM's scaled CIELab (0..65535 each). */
      rgb2DICOMLAB(rgb: number[]): number[]
      dicomlab2RGB(lab: number[]): number[]
    }
  }
  derivations: {
    Segmentation: new (datasets: NaturalizedDataset[], options?: Record<string, unknown>) => DcmjsSegmentationDerivation
  }
}

export const dcmjsSeg = dcmjs as unknown as DcmjsSegApi
