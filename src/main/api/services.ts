import { readdir, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import type { ApiHandlers, AppInfo, DirectoryListing } from '../../shared/api/contract'
import type { FileEntry } from '../../shared/study'
import { InputError } from '../io/InputError'
import { detectStudyFiles } from '../study/studyLayout'
import type { StudySession } from '../study/StudySession'
import type { TrainingService } from '../training/trainingService'
import { APP_VERSION } from '../appVersion'
import { listModelSetInfos, modelSetInfo } from '../inference/modelSet/modelSetInfo'
import { addModelSetFromFiles } from '../inference/modelSet/addModelSet'

export interface ServiceContext {
  transport: AppInfo['transport']
  session: StudySession
  training: TrainingService
  startupStudyPath?: string
  /** Where the file browser starts. */
  browseRoot?: string
}

/** The main-process services behind the API contract, the same for every transport. */
export function createServices(ctx: ServiceContext): ApiHandlers {
  const { session, training } = ctx
  return {
    'app.info': async () => ({ name: 'LesionLab', version: APP_VERSION, transport: ctx.transport, startupStudyPath: ctx.startupStudyPath }),
    'study.openDemo': async ({ tracer }) => session.openDemo(tracer),
    'study.open': async ({ path, ctPath, petPath, maskPath, petSeriesUid, ctSeriesUid }) =>
      path !== undefined
        ? session.openPath(resolve(path), { petSeriesUid, ctSeriesUid })
        : session.openPair(resolve(ctPath!), resolve(petPath!), maskPath && resolve(maskPath)),
    'study.setSuvParameters': async ({ overrides }) => session.setSuvParameters(overrides),
    'study.setTracer': async ({ tracer }) => session.setTracer(tracer),
    'mask.export': async ({ volumeId, path, format, algorithmType }) => session.exportMask(volumeId, resolve(path), format, algorithmType),
    'study.openUploaded': async ({ files }) => session.openUploaded(files),
    'study.current': async () => session.current,
    'volume.get': async ({ volumeId }) => {
      const record = await session.getVolume(volumeId)
      return { info: record.info, voxels: record.voxels }
    },
    'files.list': async ({ path }) => listDirectory(resolve(path ?? ctx.browseRoot ?? homedir())),
    'models.list': async () => listModelSetInfos(),
    'models.add': async ({ name, files, tracers, webgpu }) => {
      const set = await addModelSetFromFiles(files.map((f) => resolve(f)), { name, tracers, webgpu })
      return modelSetInfo(set)
    },
    'study.segment': async ({ modelSetId, taskId, ...options }) => session.segment(modelSetId, options, taskId ?? `segment-${Date.now()}`),
    'study.measures': async ({ maskVolumeId, referenceVolumeId, connectivity }) => session.measures(maskVolumeId, referenceVolumeId, connectivity),
    'edit.start': async ({ baseVolumeId }) => session.startEditing(baseVolumeId),
    'edit.apply': async ({ op }) => session.applyEdit(op),
    'edit.undo': async () => session.undoEdit(),
    'edit.redo': async () => session.redoEdit(),
    'edit.save': async () => session.saveEdits(),
    'review.setLesion': async ({ pointLps, state }) => session.reviewLesion(pointLps, state),
    'review.setStudy': async ({ state, comment }) => session.reviewStudy(state, comment),
    'task.cancel': async ({ taskId }) => ({ cancelled: session.cancelTask(taskId) || training.cancel(taskId) }),
    'train.start': async (args) => training.start(args),
    'train.pause': async ({ taskId, paused }) => training.setPaused(taskId, paused),
    'train.status': async () => training.status(),
  }
}

async function listDirectory(path: string): Promise<DirectoryListing> {
  let names: string[]
  try {
    names = await readdir(path)
  } catch (e) {
    throw new InputError(path, `cannot list the folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
  }
  const entries: FileEntry[] = []
  for (const name of names.sort((a, b) => a.localeCompare(b))) {
    if (name.startsWith('.')) continue
    try {
      const s = await stat(join(path, name))
      entries.push({ name, path: join(path, name), kind: s.isDirectory() ? 'dir' : 'file', sizeBytes: s.isDirectory() ? undefined : s.size })
    } catch {
      // Broken links and unreadable entries are simply not offered.
    }
  }
  entries.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'dir' ? -1 : 1))
  const isStudyFolder = await detectStudyFiles(path).then(
    () => true,
    () => false,
  )
  return { path, parent: dirname(path) === path ? null : dirname(path), entries, isStudyFolder }
}
