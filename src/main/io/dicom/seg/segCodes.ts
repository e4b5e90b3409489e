import { randomUUID } from 'node:crypto'

/** A coded concept as DICOM code sequences carry it. */
export interface CodedConcept {
  codeValue: string
  codingSchemeDesignator: string
  codeMeaning: string
}

/** SNOMED CT 49755003 "Morphologically Altered Structure": the category lesions belong to. */
export const CATEGORY_MORPHOLOGICALLY_ALTERED: CodedConcept = {
  codeValue: '49755003',
  codingSchemeDesignator: 'SCT',
  codeMeaning: 'Morphologically Altered Structure',
}

/** SNOMED CT 52988006 "Lesion". */
export const TYPE_LESION: CodedConcept = { codeValue: '52988006', codingSchemeDesignator: 'SCT', codeMeaning: 'Lesion' }

export function codeItem(code: CodedConcept): Record<string, string> {
  return { CodeValue: code.codeValue, CodingSchemeDesignator: code.codingSchemeDesignator, CodeMeaning: code.codeMeaning }
}

/**
 * A new globally unique DICOM UID under the 2.25 root (ISO/IEC 9834-8): a random UUID written as one
 * decimal integer. dcmjs's own uid() draws its digits from Math.random, which is not meant for this.
 */
export function newDicomUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`).toString()}`
}

/**
 * LesionLab's implementation class UID (file meta information): a fixed 2.25 UID made once from a
 * random UUID, so every file LesionLab writes names the same implementation.
 */
export const LESIONLAB_IMPLEMENTATION_CLASS_UID = '2.25.155403741305998729051755399378802248590'
