import { ref, type ShallowRef } from 'vue'
import type { EditResponse, LesionLabApi, VolumePayload } from '../../../shared/api/contract'
import { axisDirection, type Vec3 } from '../../../shared/geometry'
import type { StudyInfo } from '../../../shared/study'
import type { StudyVolumes } from '../study/useStudy'
import type { EditPointerEvent, FusionViewer } from '../viewer/FusionViewer'

export type EditTool = 'navigate' | 'brush' | 'eraser' | 'grow' | 'delete' | 'scissors' | 'split' | 'merge'

interface Preview {
  pointLps: Vec3
  runs: Int32Array
  previous: Uint8Array
}

/** Sorted voxel indices as [start, length] runs of one voxel each (what patchMask takes). */
function runsOf(voxels: Int32Array): Int32Array {
  const runs = new Int32Array(voxels.length * 2)
  for (let n = 0; n < voxels.length; n++) {
    runs[2 * n] = voxels[n]
    runs[2 * n + 1] = 1
  }
  return runs
}

/** Shown for the region a grow would add, until it is accepted (Enter or a second click) or dropped (Esc). */
const PREVIEW_LABEL = 2

/**
 * The editing tools: pointer gestures turned into operations on the main process's working mask.
 * The main process owns the mask (journal, undo, versions); each reply is a diff patched into the
 * shown labelmap, so an edit never moves the whole volume.
 */
export function useEditing(
  api: LesionLabApi,
  deps: {
    study: ShallowRef<StudyVolumes | null>
    viewer: () => FusionViewer | null
    /** The study's description changed (the working mask was added). */
    updateInfo: (info: StudyInfo) => void
    /** Fetch and show one of the study's masks (only that volume travels). */
    showMask: (volumeId: string) => Promise<VolumePayload>
    changed: () => void
    fail: (e: unknown) => void
  },
) {
  const tool = ref<EditTool>('navigate')
  const brushRadiusMm = ref(6)
  /** Grow threshold: 'p41' / 'p50' (percent of the local SUVmax) or 's2.5' / 's4' (absolute SUV). */
  const growRule = ref<'p41' | 'p50' | 's2.5' | 's4'>('p41')
  const brushShape = ref<'circle' | 'sphere'>('circle')
  const scissorsShape = ref<'rectangle' | 'circle'>('rectangle')
  let firstPoint: Vec3 | null = null
  const suvGate = ref<number | null>(null)
  const scissorsAllSlices = ref(false)
  const undoLabel = ref<string | undefined>()
  const redoLabel = ref<string | undefined>()
  let preview: Preview | null = null
  let scissorsStart: Vec3 | null = null
  let inFlight: Promise<unknown> = Promise.resolve()

  /** Edits always go to the working copy; the automatic and reference masks stay as they are. */
  async function ensureWorking(): Promise<boolean> {
    const s = deps.study.value
    if (!s) return false
    if (s.info.workingMaskId && s.mask?.info.id === s.info.workingMaskId) return true
    // The working copy starts from the mask on screen (the automatic one, unless the reader chose another).
    const info = s.info.workingMaskId ? s.info : await api.call('edit.start', { baseVolumeId: s.mask?.info.id })
    deps.updateInfo(info)
    const mask = await deps.showMask(info.workingMaskId!)
    deps.viewer()?.setMask(mask)
    return true
  }

  function apply(r: EditResponse | null): void {
    if (!r) return
    const s = deps.study.value
    if (s?.mask?.info.id === r.volumeId && r.runs.length) deps.viewer()?.patchMask(r.runs, r.after, s.mask.voxels as Uint8Array)
    undoLabel.value = r.undoLabel
    redoLabel.value = r.redoLabel
    deps.changed()
  }

  /** Operations run one after another, in the order the reader made them. */
  function enqueue(work: () => Promise<void>): void {
    inFlight = inFlight.then(work).catch(deps.fail)
  }

  function planeAxis(normal: Vec3): 0 | 1 | 2 {
    const g = deps.study.value!.pet.info.geometry
    let best: 0 | 1 | 2 = 2
    let bestDot = -1
    for (const axis of [0, 1, 2] as const) {
      const d = axisDirection(g, axis)
      const dot = Math.abs(d[0] * normal[0] + d[1] * normal[1] + d[2] * normal[2])
      if (dot > bestDot) {
        bestDot = dot
        best = axis
      }
    }
    return best
  }

  function dropPreview(): void {
    if (!preview) return
    deps.viewer()?.patchMask(preview.runs, preview.previous)
    preview = null
  }

  /**
   * A stroke: each dab is previewed at once (the main process says which voxels it covers, the
   * labelmap shows them), and on release the whole stroke is applied as one operation, one undo.
   */
  let stroke: { centres: Vec3[]; axis: 0 | 1 | 2; previews: { runs: Int32Array; previous: Uint8Array }[] } | null = null
  function strokeAt(e: EditPointerEvent, phase: 'down' | 'move' | 'up'): void {
    const erase = tool.value === 'eraser'
    const shape = brushShape.value
    if (phase === 'down') stroke = { centres: [], axis: planeAxis(e.viewPlaneNormal), previews: [] }
    const s = stroke
    if (!s) return
    if (phase !== 'up') {
      const last = s.centres[s.centres.length - 1]
      // Dabs half a radius apart make a continuous stroke without flooding the main process.
      if (last && Math.hypot(e.worldLps[0] - last[0], e.worldLps[1] - last[1], e.worldLps[2] - last[2]) < brushRadiusMm.value / 2) return
      s.centres.push(e.worldLps)
      const centreLps = e.worldLps
      enqueue(async () => {
        const r = await api.call('edit.apply', { op: { kind: 'brushPreview', centreLps, radiusMm: brushRadiusMm.value, shape, planeNormalAxis: s.axis, suvAbove: suvGate.value ?? undefined } })
        const voxels = r?.preview?.voxels
        if (!voxels?.length || stroke !== s) return
        const runs = runsOf(voxels)
        const viewer = deps.viewer()!
        s.previews.push({ runs, previous: viewer.maskValuesAt(voxels) })
        viewer.patchMask(runs, erase ? 0 : 1)
      })
      return
    }
    stroke = null
    enqueue(async () => {
      // Put the shown labelmap back as it was (newest first), then apply what the main process did.
      const viewer = deps.viewer()!
      for (let n = s.previews.length - 1; n >= 0; n--) viewer.patchMask(s.previews[n].runs, s.previews[n].previous)
      if (s.centres.length === 0) return
      apply(
        await api.call('edit.apply', {
          op: { kind: 'brush', centresLps: s.centres, radiusMm: brushRadiusMm.value, shape, planeNormalAxis: s.axis, erase, suvAbove: suvGate.value ?? undefined },
        }),
      )
    })
  }

  /** The viewer's pointer hook: true when the active tool takes the gesture. */
  function onPointer(phase: 'down' | 'move' | 'up', e: EditPointerEvent): boolean {
    if (tool.value === 'navigate') return false
    if (phase === 'down') enqueue(async () => void (await ensureWorking()))
    switch (tool.value) {
      case 'brush':
      case 'eraser':
        strokeAt(e, phase)
        return true
      case 'grow':
        if (phase === 'down') growClick(e.worldLps)
        return true
      case 'delete':
        if (phase === 'down') enqueue(async () => apply(await api.call('edit.apply', { op: { kind: 'deleteAt', pointLps: e.worldLps } })))
        return true
      case 'scissors':
        if (phase === 'down') scissorsStart = e.worldLps
        if (phase === 'up' && scissorsStart) {
          const a = scissorsStart
          scissorsStart = null
          const mode = e.shiftKey ? 'fill' : 'erase'
          const axis = planeAxis(e.viewPlaneNormal)
          const b = e.worldLps
          enqueue(async () =>
            apply(
              await api.call('edit.apply', {
                op:
                  scissorsShape.value === 'rectangle'
                    ? { kind: 'scissors', cornerALps: a, cornerBLps: b, planeNormalAxis: axis, mode, allSlices: scissorsAllSlices.value }
                    : { kind: 'scissorsCircle', centreLps: a, radiusMm: Math.max(1, Math.hypot(b[0] - a[0], b[1] - a[1], b[2] - a[2])), planeNormalAxis: axis, mode, allSlices: scissorsAllSlices.value },
              }),
            ),
          )
        }
        return true
      case 'split':
      case 'merge':
        // Two clicks: split = the lesion and a point in the part to cut off; merge = one lesion, then the other.
        if (phase === 'down') {
          if (!firstPoint) firstPoint = e.worldLps
          else {
            const a = firstPoint
            firstPoint = null
            const kind = tool.value === 'split' ? 'splitAt' : 'mergeAt'
            const b = e.worldLps
            enqueue(async () => apply(await api.call('edit.apply', { op: { kind, pointALps: a, pointBLps: b } })))
          }
        }
        return true
    }
  }

  /** First click: preview the grown region; a second click on it (or Enter) accepts. */
  function growClick(pointLps: Vec3): void {
    enqueue(async () => {
      if (preview) {
        await acceptPreviewNow()
        return
      }
      const r = await api.call('edit.apply', { op: { kind: 'growPreview', pointLps, ...growArgs() } })
      if (!r?.preview || r.preview.voxels.length === 0) return
      const runs = runsOf(r.preview.voxels)
      const viewer = deps.viewer()!
      preview = { pointLps, runs, previous: viewer.maskValuesAt(r.preview.voxels) }
      viewer.patchMask(runs, PREVIEW_LABEL)
    })
  }

  function growArgs(): { percent?: number; suv?: number } {
    const rule = growRule.value
    return rule.startsWith('p') ? { percent: Number(rule.slice(1)) } : { suv: Number(rule.slice(1)) }
  }

  async function acceptPreviewNow(): Promise<void> {
    if (!preview) return
    const point = preview.pointLps
    dropPreview()
    apply(await api.call('edit.apply', { op: { kind: 'growAccept', pointLps: point, ...growArgs() } }))
  }

  return {
    tool,
    brushRadiusMm,
    growRule,
    brushShape,
    scissorsShape,
    suvGate,
    scissorsAllSlices,
    undoLabel,
    redoLabel,
    onPointer,
    setTool(t: EditTool): void {
      dropPreview()
      firstPoint = null
      tool.value = t
    },
    acceptPreview: (): void => enqueue(acceptPreviewNow),
    cancelPreview: dropPreview,
    hasPreview: (): boolean => preview !== null,
    undo: (): void =>
      enqueue(async () => {
        if (await ensureWorking()) apply(await api.call('edit.undo', {}))
      }),
    redo: (): void =>
      enqueue(async () => {
        if (await ensureWorking()) apply(await api.call('edit.redo', {}))
      }),
    save: (): Promise<{ version: number }> => api.call('edit.save', {}),
    resizeBrush(factor: number): void {
      brushRadiusMm.value = Math.min(50, Math.max(1, Math.round(brushRadiusMm.value * factor * 2) / 2))
    },
    /** Wait for queued edits (tests and saving). */
    settled: (): Promise<unknown> => inFlight,
    ensureWorking,
    apply,
  }
}
