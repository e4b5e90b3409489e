import { readFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import type { SuvParameters } from '../../shared/suv'
import type { LesionReview, Tracer } from '../../shared/study'
import { writeFileAtomic } from '../io/atomicWrite'
import { appDataDir } from './appDataDir'

/** What the user decided about a study, kept across sessions. */
export interface StudySettings {
  /** Corrections to the SUV inputs (win over the DICOM header). */
  suvOverrides?: SuvParameters
  tracer?: Tracer
  review?: { state: 'unreviewed' | 'in progress' | 'done'; comment: string; lesions: LesionReview[] }
  updatedAt?: string
}

/**
 * Per-study settings as small JSON files keyed by the study's identity (e.g. its DICOM study and PET
 * series UIDs, or its file paths), written atomically. The cohort issue moves these into the SQLite
 * project store; the key and shape stay.
 */
export class StudySettingsStore {
  constructor(private readonly dir = join(appDataDir(), 'study-settings')) {}

  async load(studyKey: string): Promise<StudySettings> {
    try {
      return JSON.parse(await readFile(this.pathOf(studyKey), 'utf8')) as StudySettings
    } catch {
      return {}
    }
  }

  async save(studyKey: string, settings: StudySettings): Promise<void> {
    const body = JSON.stringify({ ...settings, studyKey, updatedAt: new Date().toISOString() }, null, 2)
    await writeFileAtomic(this.pathOf(studyKey), new TextEncoder().encode(body))
  }

  private pathOf(studyKey: string): string {
    return join(this.dir, `${createHash('sha256').update(studyKey).digest('hex').slice(0, 32)}.json`)
  }
}
