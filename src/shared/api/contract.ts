import { z } from 'zod'
import type { FileEntry, StudyInfo, VolumeInfo } from '../study'
import type { VoxelArray } from '../volume'
import type { MaskMeasures } from '../measures'
import type { LesionReview } from '../study'

/**
 * The one API between the renderer and the main-process services. Both transports (Electron IPC and
 * the browser-mode WebSocket) serve exactly these methods; arguments are validated by these schemas
 * on the main side, so a malformed call fails with a message naming the method and the field.
 */
export const argumentSchemas = {
  'app.info': z.object({}).strict(),
  'study.openDemo': z.object({ tracer: z.enum(['FDG', 'PSMA']).default('FDG') }).strict(),
  'study.open': z
    .object({
      /** A study folder (autoPET, nnU-Net pair, CT/ and PET/ subfolders) or one image of a pair. */
      path: z.string().min(1).optional(),
      ctPath: z.string().min(1).optional(),
      petPath: z.string().min(1).optional(),
      maskPath: z.string().min(1).optional(),
      /** DICOM: the series to show instead of the automatic pick. */
      petSeriesUid: z.string().min(1).optional(),
      ctSeriesUid: z.string().min(1).optional(),
    })
    .strict()
    .refine((a) => a.path !== undefined || (a.ctPath !== undefined && a.petPath !== undefined), {
      message: 'give either "path" (a study folder) or both "ctPath" and "petPath"',
    }),
  /** Files dropped on the window in browser mode, sent as bytes; the main process stores and opens them. */
  'study.openUploaded': z
    .object({
      files: z
        .array(z.object({ name: z.string().min(1).max(255), bytes: z.instanceof(Uint8Array) }).strict())
        .min(1)
        .max(8),
    })
    .strict(),
  'study.current': z.object({}).strict(),
  /** Correct the SUV inputs of the open DICOM PET; the values are saved with the study. */
  'study.setSuvParameters': z
    .object({
      overrides: z
        .object({
          weightKg: z.number().positive().max(500).optional(),
          heightCm: z.number().positive().max(300).optional(),
          sex: z.enum(['M', 'F']).optional(),
          injectedDoseBq: z.number().positive().max(5e10).optional(),
          injectionDateTime: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/, 'expected YYYY-MM-DDTHH:MM[:SS]').optional(),
          halfLifeS: z.number().positive().max(1e9).optional(),
        })
        .strict(),
    })
    .strict(),
  'study.setTracer': z.object({ tracer: z.enum(['FDG', 'PSMA', 'unknown']) }).strict(),
  /** Save a mask of the open study: NIfTI or MHA on the PET grid, or DICOM SEG referencing the PET. */
  'mask.export': z
    .object({
      volumeId: z.string().min(1),
      path: z.string().min(1),
      format: z.enum(['nifti', 'mha', 'dicom-seg']),
      algorithmType: z.enum(['AUTOMATIC', 'SEMIAUTOMATIC', 'MANUAL']).optional(),
    })
    .strict(),
  'volume.get': z.object({ volumeId: z.string().min(1) }).strict(),
  'files.list': z.object({ path: z.string().min(1).optional() }).strict(),
  /** Installed model sets (shipped and the user's), with what is wrong with broken ones. */
  'models.list': z.object({}).strict(),
  /** Run a model set on the open study; the result becomes the study's automatic mask. */
  'study.segment': z
    .object({
      modelSetId: z.string().min(1),
      device: z.enum(['auto', 'cpu', 'cuda', 'webgpu', 'dml', 'coreml']).default('auto'),
      threads: z.number().int().min(1).max(256).optional(),
      overlap: z.number().min(0).max(0.95).optional(),
      windowSize: z.number().int().min(16).max(512).multipleOf(16).optional(),
      blending: z.enum(['constant', 'gaussian']).optional(),
      skipEmptyWindows: z.boolean().optional(),
      /** The caller's name for this run, used by its progress events and by task.cancel. */
      taskId: z.string().min(1).max(100).optional(),
    })
    .strict(),
  /** Make a model set from fold checkpoints (.pt/.pth/.safetensors) or ONNX files on the main side. */
  'models.add': z
    .object({
      name: z.string().min(1).max(100),
      files: z.array(z.string().min(1)).min(1).max(20),
      tracers: z.array(z.enum(['FDG', 'PSMA'])).min(1).optional(),
      webgpu: z.boolean().optional(),
    })
    .strict(),
  /** Lesion and patient measures of a mask on the PET, and the autoPET metrics against a second mask. */
  'study.measures': z
    .object({
      maskVolumeId: z.string().min(1),
      referenceVolumeId: z.string().min(1).optional(),
      connectivity: z.union([z.literal(6), z.literal(18), z.literal(26)]).default(18),
    })
    .strict(),
  /** Start (or resume) correcting: a working copy of a mask (the automatic one by default), journaled to disk. */
  'edit.start': z.object({ baseVolumeId: z.string().min(1).optional() }).strict(),
  /** One editing operation on the working mask; positions in LPS mm. */
  'edit.apply': z
    .object({
      op: z.discriminatedUnion('kind', [
        /** A whole stroke: one operation, one undo step. */
        z.object({ kind: z.literal('brush'), centresLps: z.array(z.tuple([z.number(), z.number(), z.number()])).min(1).max(10_000), radiusMm: z.number().positive().max(200), shape: z.enum(['sphere', 'circle']), planeNormalAxis: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional(), erase: z.boolean().optional(), suvAbove: z.number().optional() }).strict(),
        /** The voxels one dab would cover, for the live stroke preview (nothing is applied). */
        z.object({ kind: z.literal('brushPreview'), centreLps: z.tuple([z.number(), z.number(), z.number()]), radiusMm: z.number().positive().max(200), shape: z.enum(['sphere', 'circle']), planeNormalAxis: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional(), suvAbove: z.number().optional() }).strict(),
        z.object({ kind: z.literal('growPreview'), pointLps: z.tuple([z.number(), z.number(), z.number()]), percent: z.number().min(1).max(100).optional(), suv: z.number().positive().optional() }).strict(),
        z.object({ kind: z.literal('growAccept'), pointLps: z.tuple([z.number(), z.number(), z.number()]), percent: z.number().min(1).max(100).optional(), suv: z.number().positive().optional() }).strict(),
        z.object({ kind: z.literal('deleteAt'), pointLps: z.tuple([z.number(), z.number(), z.number()]) }).strict(),
        z.object({ kind: z.literal('splitAt'), pointALps: z.tuple([z.number(), z.number(), z.number()]), pointBLps: z.tuple([z.number(), z.number(), z.number()]) }).strict(),
        z.object({ kind: z.literal('mergeAt'), pointALps: z.tuple([z.number(), z.number(), z.number()]), pointBLps: z.tuple([z.number(), z.number(), z.number()]) }).strict(),
        z.object({ kind: z.literal('scissorsCircle'), centreLps: z.tuple([z.number(), z.number(), z.number()]), radiusMm: z.number().positive().max(500), planeNormalAxis: z.union([z.literal(0), z.literal(1), z.literal(2)]), mode: z.enum(['erase', 'fill']), allSlices: z.boolean().optional() }).strict(),
        z.object({ kind: z.literal('scissors'), cornerALps: z.tuple([z.number(), z.number(), z.number()]), cornerBLps: z.tuple([z.number(), z.number(), z.number()]), planeNormalAxis: z.union([z.literal(0), z.literal(1), z.literal(2)]), mode: z.enum(['erase', 'fill']), allSlices: z.boolean().optional() }).strict(),
      ]),
    })
    .strict(),
  'edit.undo': z.object({}).strict(),
  'edit.redo': z.object({}).strict(),
  /** Save the working mask as a new version (never overwriting one). */
  'edit.save': z.object({}).strict(),
  /** Review state of a lesion of the working mask (rejecting removes it) or of the study. */
  'review.setLesion': z.object({ pointLps: z.tuple([z.number(), z.number(), z.number()]), state: z.enum(['unreviewed', 'accepted', 'rejected']) }).strict(),
  'review.setStudy': z.object({ state: z.enum(['unreviewed', 'in progress', 'done']), comment: z.string().max(10_000) }).strict(),
  /**
   * Fine-tune a model set on corrected cases into a new model set, in a worker; resolves when the run
   * ends. Progress comes as `progress` and `training.progress` events under `taskId`.
   */
  'train.start': z
    .object({
      baseModelSetId: z.string().min(1),
      outName: z.string().min(1).max(100),
      /** The open study, with its working correction, as a case (its review must be done unless includeUnreviewed). */
      useCurrentStudy: z.boolean(),
      includeUnreviewed: z.boolean().optional(),
      /** Further study folders with masks. */
      casePaths: z.array(z.string().min(1)).max(500),
      /** A held-out study folder for validation Dice, early stopping and the best state. */
      validationPath: z.string().min(1).optional(),
      /** Validate on the open study instead (only sensible when it is not a training case). */
      validateOnCurrentStudy: z.boolean().optional(),
      settings: z
        .object({
          steps: z.number().int().min(1).max(100_000),
          learningRate: z.number().positive().max(1),
          patch: z.number().int().min(16).max(256).multipleOf(16),
          batch: z.number().int().min(1).max(64),
          trainable: z.object({ layers: z.enum(['all', 'decoder']), normAffine: z.boolean() }).strict(),
          foregroundProbability: z.number().min(0).max(1),
          augment: z.boolean(),
          schedule: z.enum(['cosine', 'constant']),
          validateEvery: z.number().int().min(0),
          patience: z.number().int().min(0),
          seed: z.number().int().min(0),
          threads: z.number().int().min(1).max(256),
        })
        .partial()
        .strict(),
      folds: z.array(z.number().int().min(0)).min(1).optional(),
      device: z.enum(['auto', 'cpu', 'cuda', 'webgpu', 'dml']).default('auto'),
      taskId: z.string().min(1).max(100).optional(),
    })
    .strict(),
  /** The fine-tuning run going now (null when none): a reloaded window reattaches to it. */
  'train.status': z.object({}).strict(),
  /** Pause or resume a fine-tuning run between steps. */
  'train.pause': z.object({ taskId: z.string().min(1), paused: z.boolean() }).strict(),
  /** Stop a running task (segmentation, fine-tuning); its progress event ends with an error "cancelled". */
  'task.cancel': z.object({ taskId: z.string().min(1) }).strict(),
} as const

export type ApiMethod = keyof typeof argumentSchemas
export type ApiArgs<M extends ApiMethod> = z.input<(typeof argumentSchemas)[M]>
export type ApiParsedArgs<M extends ApiMethod> = z.output<(typeof argumentSchemas)[M]>

export interface AppInfo {
  name: string
  version: string
  transport: 'ipc' | 'websocket'
  /** Command-line request to open a study at start-up, if any. */
  startupStudyPath?: string
}

export interface VolumePayload {
  info: VolumeInfo
  voxels: VoxelArray
}

export interface DirectoryListing {
  path: string
  parent: string | null
  entries: FileEntry[]
  /** Whether the folder itself looks like a study LesionLab can open. */
  isStudyFolder: boolean
}

export interface MaskExportResult {
  path: string
  format: 'nifti' | 'mha' | 'dicom-seg'
  bytes: number
}

export interface ModelSetInfo {
  id: string
  name?: string
  version?: string
  description?: string
  intendedUse?: 'research' | 'demonstration'
  tracers?: ('FDG' | 'PSMA')[]
  folds?: number
  parameters?: number
  location: 'shipped' | 'user'
  dir: string
  problem?: string
}

export interface ModelSetListing {
  sets: ModelSetInfo[]
  /** Where to put model sets, and how to make one, for the "none installed" message. */
  userDir: string
  howToAdd: string
}

export interface SegmentResult {
  study: StudyInfo
  maskVolumeId: string
  provider: string
  providerNote?: string
  seconds: number
}

/** What an edit changed, for the renderer to patch its copy of the working mask. */
export interface EditResponse {
  volumeId: string
  runs: Int32Array
  after: Uint8Array
  undoLabel?: string
  redoLabel?: string
  /** growPreview / brushPreview: the voxels that accepting would change (not applied), and the grow threshold. */
  preview?: { voxels: Int32Array; thresholdSuv: number; localMaxSuv: number; truncated: boolean }
}

export interface ApiResults {
  'app.info': AppInfo
  'study.openDemo': StudyInfo
  'study.open': StudyInfo
  'study.openUploaded': StudyInfo
  'study.current': StudyInfo | null
  'study.setSuvParameters': StudyInfo
  'study.setTracer': StudyInfo
  'mask.export': MaskExportResult
  'volume.get': VolumePayload
  'files.list': DirectoryListing
  'models.list': ModelSetListing
  'models.add': ModelSetInfo
  'study.measures': MaskMeasures
  'edit.start': StudyInfo
  'edit.apply': EditResponse | null
  'edit.undo': EditResponse | null
  'edit.redo': EditResponse | null
  'edit.save': { version: number }
  'review.setLesion': { lesionReviews: LesionReview[]; edit: EditResponse | null }
  'review.setStudy': StudyInfo
  'study.segment': SegmentResult
  'task.cancel': { cancelled: boolean }
  'train.start': FineTuneResult
  'train.pause': { paused: boolean }
  'train.status': TrainingStatus
}

export type TrainingStatus = { taskId: string; paused: boolean; last: TrainingProgress | null } | null

export type FineTuneStartArgs = ApiParsedArgs<'train.start'>

export interface FineTuneResult {
  /** The new model set (the base set is unchanged). */
  modelSetId: string
  provider: string
  folds: { fold: string; stepsRun: number; bestStep: number; stoppedEarly: boolean; diceBefore: number | null; diceAfter: number | null; losses: number[] }[]
}

/** One training step's report. */
export interface TrainingProgress {
  taskId: string
  paused: boolean
  fraction: number
  message: string
  fold?: number
  foldCount?: number
  step?: number
  steps?: number
  loss?: number
  learningRate?: number
  validationDice?: number
  bestDice?: number
  secondsLeft?: number
  /** Only on the run's last report: how it ended. */
  outcome?: { modelSetId?: string; cancelled?: boolean; error?: string }
}

/** Server-to-renderer notifications. */
export interface ApiEvents {
  progress: { taskId: string; label: string; fraction: number; done: boolean; error?: string }
  'study.updated': StudyInfo
  'training.progress': TrainingProgress
}
export type ApiEventName = keyof ApiEvents

export type ApiHandlers = { [M in ApiMethod]: (args: ApiParsedArgs<M>) => Promise<ApiResults[M]> }

/** What the renderer sees, whichever transport carries it. */
export interface LesionLabApi {
  call<M extends ApiMethod>(method: M, args: ApiArgs<M>): Promise<ApiResults[M]>
  on<E extends ApiEventName>(event: E, listener: (payload: ApiEvents[E]) => void): () => void
}

/** An error as it travels; `kind` lets the UI tell bad input from a bug. */
export interface ApiErrorPayload {
  message: string
  kind: 'input' | 'argument' | 'unknown-method' | 'cancelled' | 'internal'
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly kind: ApiErrorPayload['kind'],
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

export function isApiMethod(name: unknown): name is ApiMethod {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(argumentSchemas, name)
}
