import { ref, shallowRef } from 'vue'
import type { ApiArgs, LesionLabApi, VolumePayload } from '../../../shared/api/contract'
import type { StudyInfo } from '../../../shared/study'

export interface StudyVolumes {
  info: StudyInfo
  ct?: VolumePayload
  pet: VolumePayload
  mask?: VolumePayload
}

/**
 * The open study as the renderer knows it: its description and the voxel arrays fetched (as binary)
 * through the API. Opening is a sequence of API calls; errors surface as messages, never as a
 * broken screen, and the previous study stays shown if the new one fails.
 */
export function useStudy(api: LesionLabApi) {
  const study = shallowRef<StudyVolumes | null>(null)
  const loading = ref<string | null>(null)

  async function fetchVolumes(info: StudyInfo): Promise<StudyVolumes> {
    loading.value = `Loading ${info.name}…`
    const [ct, pet, mask] = await Promise.all([
      info.ct ? api.call('volume.get', { volumeId: info.ct.id }) : Promise.resolve(undefined),
      api.call('volume.get', { volumeId: info.pet.id }),
      // The newest mask (an automatic result is appended last) is shown first.
      info.masks.length ? api.call('volume.get', { volumeId: info.masks[info.masks.length - 1].id }) : Promise.resolve(undefined),
    ])
    return { info, ct, pet, mask }
  }

  async function run(label: string, open: () => Promise<StudyInfo>): Promise<StudyVolumes> {
    loading.value = label
    try {
      const volumes = await fetchVolumes(await open())
      study.value = volumes
      return volumes
    } finally {
      loading.value = null
    }
  }

  /** The main process changed the study's description (not its images). */
  function updateInfo(info: StudyInfo): void {
    const current = study.value
    if (current) study.value = { ...current, info }
  }

  /** Show another of the study's masks. */
  async function showMask(volumeId: string): Promise<VolumePayload> {
    const current = study.value
    if (!current) throw new Error('no study is open')
    const mask = await api.call('volume.get', { volumeId })
    study.value = { ...current, mask }
    return mask
  }

  return {
    updateInfo,
    showMask,
    study,
    loading,
    openDemo: (tracer: 'FDG' | 'PSMA') => run(`Making the ${tracer} demo phantom…`, () => api.call('study.openDemo', { tracer })),
    open: (args: ApiArgs<'study.open'>) => run('Reading the study…', () => api.call('study.open', args)),
    /** Show a StudyInfo the main process already has open (e.g. after an SUV correction). */
    adopt: (info: StudyInfo) => run('Loading the corrected PET…', async () => info),
    openUploaded: (files: { name: string; bytes: Uint8Array<ArrayBuffer> }[]) =>
      run('Uploading and reading the dropped files…', () => api.call('study.openUploaded', { files })),
  }
}
