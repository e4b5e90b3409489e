/**
 * dcmjs 0.52 ships no TypeScript types: this declares only the parts LesionLab uses (checked against
 * node_modules/dcmjs/build/dcmjs.es.js). Extend it here rather than declaring the module again elsewhere.
 */
declare module 'dcmjs' {
  /** One element of a "denaturalized" dataset, keyed by its tag in upper-case hex ("0020000D"). */
  export interface DicomElement {
    vr: string
    Value?: unknown[]
  }
  export type DicomDataDict = Record<string, DicomElement>

  export interface ReadFileOptions {
    ignoreErrors?: boolean
    /** Stop when this tag ("7FE00010") is met; the dataset then holds the tag with an empty value. */
    untilTag?: string | null
    includeUntilTagValue?: boolean
    noCopy?: boolean
    forceStoreRaw?: boolean
  }

  interface Logger {
    setLevel(level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent'): void
  }

  /** A file's meta header and dataset, as read, or built (dcmjs.data.DicomDict) to be written. */
  export interface DicomDict {
    meta: DicomDataDict
    dict: DicomDataDict
    /** Serializes to a Part 10 file in the meta's TransferSyntaxUID (LE/BE, implicit/explicit). */
    write(options?: { allowInvalidVRLength?: boolean }): ArrayBuffer
  }

  const dcmjs: {
    data: {
      DicomDict: new (meta: DicomDataDict) => DicomDict
      DicomMessage: {
        /** Parses a DICOM Part 10 file (128-byte preamble + "DICM"); throws on malformed input. */
        readFile(buffer: ArrayBuffer, options?: ReadFileOptions): DicomDict
      }
      DicomMetaDictionary: {
        naturalizeDataset(dict: DicomDataDict): Record<string, unknown>
        denaturalizeDataset(dataset: Record<string, unknown>): DicomDataDict
      }
    }
    log: Logger & { getLogger(name: string): Logger }
  }
  export default dcmjs
}
