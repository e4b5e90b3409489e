import type { EditResponse } from '../../shared/api/contract'
import type { Vec3 } from '../../shared/geometry'
import type { LesionReview, StudyInfo } from '../../shared/study'
import { InputError } from '../io/InputError'
import { StudyEditor, hasWorkingState, studyWorkingDir, type EditResult } from '../editing/studyEditing'
import { allocateVoxels } from '../imaging/voxelBuffers'
import type { StudySettingsStore } from '../store/studySettingsStore'
import { makeVolumeRecord, type LoadedStudy } from './loadStudy'

export const WORKING_MASK_LABEL = 'Working correction'

/**
 * Correcting a study's segmentation: a journaled working copy of one mask (the automatic result by
 * default), edited through StudyEditor. The automatic and reference masks are never modified. The
 * working copy's voxels ARE the editor's mask, so volume.get always returns the current state.
 */
export class Correction {
  private constructor(
    readonly editor: StudyEditor,
    readonly volumeId: string,
  ) {}

  /** Resume the study's working mask if one exists on disk (after a crash or a later session). */
  static async resume(study: LoadedStudy): Promise<Correction | null> {
    if (!(await hasWorkingState(studyWorkingDir(study.key)))) return null
    return Correction.start(study, undefined)
  }

  static async start(study: LoadedStudy, baseVolumeId: string | undefined): Promise<Correction> {
    const pet = study.volumes.get(study.info.pet.id)!
    const automatic = study.info.masks.find((m) => m.label.startsWith('Automatic ('))
    const baseInfo = baseVolumeId ? study.info.masks.find((m) => m.id === baseVolumeId) : automatic ?? study.info.masks[0]
    if (baseVolumeId && !baseInfo) throw new InputError(baseVolumeId, 'is not a mask of the open study')
    const base = baseInfo ? (study.volumes.get(baseInfo.id)!.voxels as Uint8Array) : (allocateVoxels('uint8', pet.voxels.length) as Uint8Array)
    const petVoxels = pet.voxels instanceof Float32Array ? pet.voxels : Float32Array.from(pet.voxels)
    const editor = await StudyEditor.open(study.key, { geometry: pet.info.geometry, voxels: petVoxels }, base, {
      sulPerSuvbw: study.info.suv?.alternatives?.sulJamesPerSuvbw,
    })
    const record = makeVolumeRecord(study.info.id, 'mask', {
      label: WORKING_MASK_LABEL,
      modality: 'SEG',
      unit: 'label',
      geometry: pet.info.geometry,
      voxels: editor.mask,
      source: `${editor.dir}${baseInfo ? ` (from ${baseInfo.label})` : ''}`,
    })
    study.volumes.set(record.info.id, record)
    study.info = { ...study.info, masks: [...study.info.masks, record.info], workingMaskId: record.info.id }
    return new Correction(editor, record.info.id)
  }

  response(result: EditResult | null): EditResponse | null {
    return result ? { volumeId: this.volumeId, runs: result.runs, after: result.after, undoLabel: result.undoLabel, redoLabel: result.redoLabel } : null
  }

  async close(): Promise<void> {
    await this.editor.close()
  }
}

/** Lesion reviews are kept by the lesion's hottest voxel: numbers change as lesions are edited. */
export function setLesionReview(reviews: LesionReview[], pointLps: Vec3, state: LesionReview['state'], toleranceMm: number): LesionReview[] {
  const others = reviews.filter((r) => Math.hypot(r.suvMaxLps[0] - pointLps[0], r.suvMaxLps[1] - pointLps[1], r.suvMaxLps[2] - pointLps[2]) > toleranceMm)
  return state === 'unreviewed' ? others : [...others, { suvMaxLps: [...pointLps] as Vec3, state }]
}

export async function loadReview(settings: StudySettingsStore, key: string): Promise<NonNullable<StudyInfo['review']>> {
  return (await settings.load(key)).review ?? { state: 'unreviewed', comment: '', lesions: [] }
}
