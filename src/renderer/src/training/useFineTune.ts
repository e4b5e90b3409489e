import { computed, reactive, ref, type Ref } from 'vue'
import { ApiError, type FineTuneResult, type LesionLabApi, type TrainingProgress } from '../../../shared/api/contract'
import { DEFAULT_FINE_TUNE_SETTINGS, type FineTuneSettingsValues } from '../../../shared/training'
import { modelSetId } from '../../../shared/modelSetId'

export type ValidationChoice = 'none' | 'path' | 'current'
export type FineTuneDevice = 'auto' | 'cpu' | 'cuda' | 'webgpu' | 'dml'

/** What the form holds; kept at module level so closing the panel loses nothing. */
export interface FineTuneForm {
  baseModelSetId: string
  outName: string
  /** false while the name is the generated default (it then follows the base set). */
  nameEdited: boolean
  useCurrentStudy: boolean
  includeUnreviewed: boolean
  casePaths: string
  validation: ValidationChoice
  validationPath: string
  /** Fold numbers to fine-tune, e.g. "0,2"; empty: all (the others are copied unchanged). */
  folds: string
  device: FineTuneDevice
  settings: FineTuneSettingsValues
}

/** One point of the loss curve (a step of the fold being trained). */
export interface LossPoint {
  step: number
  loss: number
  dice?: number
}

export interface FineTuneRun {
  taskId: string
  startedAt: number
  /** The latest training.progress (steps, loss, Dice, time left); null before the first. */
  progress: TrainingProgress | null
  /** The latest progress line (case reading and device checks come before any step). */
  message: string
  fraction: number
  paused: boolean
  /** A pause/resume or cancel request is on its way. */
  pending: 'pause' | 'cancel' | null
  fold: number
  foldCount: number
  steps: number
}

/** The loss curve of the fold being trained (kept after the run ends, for the result). */
export interface LossCurve {
  fold: number
  foldCount: number
  steps: number
  points: LossPoint[]
}

export function defaultForm(): FineTuneForm {
  return {
    baseModelSetId: '',
    outName: '',
    nameEdited: false,
    useCurrentStudy: true,
    includeUnreviewed: false,
    casePaths: '',
    validation: 'none',
    validationPath: '',
    folds: '',
    device: 'auto',
    settings: { ...DEFAULT_FINE_TUNE_SETTINGS, trainable: { ...DEFAULT_FINE_TUNE_SETTINGS.trainable } },
  }
}

// Module-level state: a run outlives the panel that started it.
const form = reactive<FineTuneForm>(defaultForm())
const run = ref<FineTuneRun | null>(null) as Ref<FineTuneRun | null>
const result = ref<FineTuneResult | null>(null)
const error = ref<string | null>(null)
const cancelled = ref(false)
const curve = ref<LossCurve | null>(null)
/** Bumped when a run ends (success, error or cancel), for whoever wants to notice it. */
const finished = ref(0)
/** Said when a run this window did not start (found again after a reload) ends. */
const notice = ref<string | null>(null)
/** The task id of a run found again through train.status (its train.start call belongs to an old page). */
let reattachedTaskId: string | null = null
let listeningTo: LesionLabApi | null = null

function listen(api: LesionLabApi): void {
  if (listeningTo === api) return
  listeningTo = api
  api.on('progress', (p) => {
    const r = run.value
    if (!r || p.taskId !== r.taskId || p.done) return
    r.message = p.label
    r.fraction = p.fraction
  })
  api.on('training.progress', (p) => {
    const r = run.value
    if (!r || p.taskId !== r.taskId) return
    if (p.outcome) {
      // A window that started the run hears the end from its train.start call; a reattached one only here.
      if (p.taskId !== reattachedTaskId) return
      run.value = null
      reattachedTaskId = null
      if (p.outcome.cancelled) cancelled.value = true
      else if (p.outcome.error) error.value = p.outcome.error
      else notice.value = `The fine-tuning run made the model set ${p.outcome.modelSetId}; choose it in Segment…`
      finished.value++
      return
    }
    r.message = p.message
    r.fraction = p.fraction
    if (p.step === undefined) return
    const fold = p.fold ?? 1
    r.fold = fold
    r.foldCount = p.foldCount ?? 1
    r.steps = p.steps ?? r.steps
    r.progress = p
    if (!curve.value || curve.value.fold !== fold) curve.value = { fold, foldCount: r.foldCount, steps: r.steps, points: [] }
    if (p.loss !== undefined) curve.value.points.push({ step: p.step, loss: p.loss, dice: p.validationDice })
  })
}

/** The arguments `train.start` gets from the form. */
export function startArgs(f: FineTuneForm, taskId: string) {
  return {
    baseModelSetId: f.baseModelSetId,
    outName: f.outName.trim(),
    useCurrentStudy: f.useCurrentStudy,
    includeUnreviewed: f.includeUnreviewed,
    casePaths: splitPaths(f.casePaths),
    validationPath: f.validation === 'path' ? f.validationPath.trim() : undefined,
    validateOnCurrentStudy: f.validation === 'current',
    settings: { ...f.settings, trainable: { ...f.settings.trainable } },
    folds: parseFolds(f.folds) ?? undefined,
    device: f.device,
    taskId,
  }
}

/** "0, 2" -> [0, 2]; "" -> undefined (all folds); anything else -> null (invalid). */
export function parseFolds(text: string): number[] | undefined | null {
  if (!text.trim()) return undefined
  const folds = text.split(',').map((t) => Number(t.trim()))
  return folds.every((f) => Number.isInteger(f) && f >= 0) ? folds : null
}

export function splitPaths(text: string): string[] {
  return text
    .split('\n')
    .map((p) => p.trim())
    .filter(Boolean)
}

/**
 * Fine-tuning from the renderer: the form, the running task (progress, loss curve, pause, cancel) and
 * its outcome, shared by every mount of the panel.
 */
export function useFineTune(api: LesionLabApi) {
  listen(api)
  const running = computed(() => run.value !== null)

  async function start(): Promise<FineTuneResult | null> {
    if (run.value) return null
    const taskId = `fine-tune-${Date.now()}`
    error.value = null
    notice.value = null
    result.value = null
    cancelled.value = false
    curve.value = null
    run.value = { taskId, startedAt: Date.now(), progress: null, message: 'Starting', fraction: 0, paused: false, pending: null, fold: 1, foldCount: 1, steps: form.settings.steps }
    try {
      const r = await api.call('train.start', startArgs(form, taskId))
      result.value = r
      return r
    } catch (e) {
      if (e instanceof ApiError && e.kind === 'cancelled') cancelled.value = true
      else error.value = (e as Error).message
      return null
    } finally {
      run.value = null
      finished.value++
    }
  }

  async function setPaused(paused: boolean): Promise<void> {
    const r = run.value
    if (!r || r.pending) return
    r.pending = 'pause'
    try {
      r.paused = (await api.call('train.pause', { taskId: r.taskId, paused })).paused
    } catch (e) {
      // A run that ended meanwhile has nothing to pause: not an error worth showing.
      if (run.value === r) error.value = (e as Error).message
    } finally {
      if (r.pending === 'pause') r.pending = null // a Cancel pressed meanwhile stays pending
    }
  }

  /** Asks the run to stop; `start` then settles as cancelled. Retries while the server has not registered the run yet. */
  async function cancel(): Promise<void> {
    const r = run.value
    if (!r || r.pending === 'cancel') return
    r.pending = 'cancel'
    for (let attempt = 0; attempt < 20 && run.value === r; attempt++) {
      const { cancelled: ok } = await api.call('task.cancel', { taskId: r.taskId }).catch(() => ({ cancelled: false }))
      if (ok) return
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    if (run.value === r) r.pending = null
  }

  /** After a reload: pick up the run the main process is still doing, with its last progress. */
  async function reattach(): Promise<void> {
    if (run.value) return
    const status = await api.call('train.status', {}).catch(() => null)
    if (!status || run.value) return
    const last = status.last
    reattachedTaskId = status.taskId
    run.value = {
      taskId: status.taskId,
      startedAt: Date.now(),
      progress: last,
      message: last?.message ?? 'Fine-tuning (started before this window was loaded)',
      fraction: last?.fraction ?? 0,
      paused: status.paused,
      pending: null,
      fold: last?.fold ?? 1,
      foldCount: last?.foldCount ?? 1,
      steps: last?.steps ?? 0,
    }
  }

  function resetSettings(): void {
    form.settings = { ...DEFAULT_FINE_TUNE_SETTINGS, trainable: { ...DEFAULT_FINE_TUNE_SETTINGS.trainable } }
  }

  return { form, run, result, error, cancelled, finished, notice, curve, running, start, setPaused, cancel, reattach, resetSettings }
}

/** "1 h 05 min", "3 min 20 s", "45 s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?'
  const s = Math.round(seconds)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`
  const m = Math.round(s / 60)
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`
}

/** `<base>-tuned-yyyymmdd-hhmm`, made unique against the ids already taken. */
export function defaultOutName(baseId: string, taken: ReadonlySet<string>, now = new Date()): string {
  const pad = (n: number): string => String(n).padStart(2, '0')
  const stamp = `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}-${pad(now.getHours())}${pad(now.getMinutes())}`
  const name = `${baseId}-tuned-${stamp}`
  if (!taken.has(modelSetIdOf(name))) return name
  for (let n = 2; ; n++) if (!taken.has(modelSetIdOf(`${name}-${n}`))) return `${name}-${n}`
}

/** The folder id the main process gives a model set of this name. */
export const modelSetIdOf = modelSetId
