import {
  CONSTANTS,
  Enums,
  RenderingEngine,
  cache,
  init as initCore,
  volumeLoader,
  type Types,
} from '@cornerstonejs/core'
import {
  Enums as ToolEnums,
  PanTool,
  StackScrollTool,
  ToolGroupManager,
  ZoomTool,
  addTool,
  init as initTools,
  segmentation,
} from '@cornerstonejs/tools'
import { sameGrid, type Vec3 } from '../../../shared/geometry'
import type { VolumePayload } from '../../../shared/api/contract'
import type { VoxelArray } from '../../../shared/volume'
import { GREY_INVERTED_COLORMAP, HOT_COLORMAP, registerPetColormaps } from './colormaps'
import { CrosshairOverlay } from './CrosshairOverlay'
import { hottestAlongRay, valueAtWorld } from './petRay'
import { CT_PRESETS, DEFAULT_SUV_WINDOW, voiRangeOf, type CtPresetName, type PetColormapName } from './windowPresets'

export type ViewName = 'axial' | 'coronal' | 'sagittal' | 'mip'
export const VIEW_NAMES: ViewName[] = ['axial', 'coronal', 'sagittal', 'mip']
const ORTHO_VIEWS: ViewName[] = ['axial', 'coronal', 'sagittal']

export interface EditPointerEvent {
  view: ViewName
  worldLps: Vec3
  viewPlaneNormal: Vec3
  shiftKey: boolean
}

/** Returns true on 'down' to take the gesture (the crosshair then stays put). */
export type EditPointerHandler = (phase: 'down' | 'move' | 'up', event: EditPointerEvent) => boolean

export interface ProbeReading {
  view: ViewName
  worldLps: Vec3
  suv?: number
  hu?: number
}

interface LoadedVolume {
  volumeId: string
  payload: VolumePayload
}

let initialised: Promise<void> | null = null
function initCornerstone(): Promise<void> {
  initialised ??= (async () => {
    await initCore()
    initTools()
    addTool(PanTool)
    addTool(ZoomTool)
    addTool(StackScrollTool)
    registerPetColormaps()
  })()
  return initialised
}

/**
 * Fused PET/CT display: axial, coronal and sagittal views of PET over CT plus a coronal PET MIP,
 * one focus point (the crosshair) shared by all. Each volume keeps its own grid; Cornerstone3D fuses
 * them in world space. This class only renders: the study's data and state live elsewhere.
 */
export class FusionViewer {
  private engine: RenderingEngine | null = null
  private readonly engineId = 'lesionlab-engine'
  private readonly toolGroupId = 'lesionlab-tools'
  private ct: LoadedVolume | null = null
  private pet: LoadedVolume | null = null
  private maskSegmentationId: string | null = null
  private focus: Vec3 = [0, 0, 0]
  private overlays = new Map<ViewName, CrosshairOverlay>()
  private generation = 0
  private fusionOpacity = 0.6
  private suvWindow = { ...DEFAULT_SUV_WINDOW }
  private petColormap: PetColormapName = 'hot'
  private ctPreset: CtPresetName = 'softTissue'
  private listenersToRemove: (() => void)[] = []

  /** Called whenever the cursor moves over a view. */
  onProbe: (reading: ProbeReading) => void = () => undefined
  /** Called when the shared focus point changes. */
  onFocus: (worldLps: Vec3) => void = () => undefined

  constructor(private readonly elements: Record<ViewName, HTMLDivElement>) {}

  async mount(): Promise<void> {
    await initCornerstone()
    this.engine = new RenderingEngine(this.engineId)
    const orientation: Record<ViewName, Enums.OrientationAxis> = {
      axial: Enums.OrientationAxis.AXIAL,
      coronal: Enums.OrientationAxis.CORONAL,
      sagittal: Enums.OrientationAxis.SAGITTAL,
      mip: Enums.OrientationAxis.CORONAL,
    }
    this.engine.setViewports(
      VIEW_NAMES.map((name) => ({
        viewportId: name,
        type: Enums.ViewportType.ORTHOGRAPHIC,
        element: this.elements[name],
        defaultOptions: { orientation: orientation[name], background: [0, 0, 0] as Types.Point3 },
      })),
    )
    const group = ToolGroupManager.createToolGroup(this.toolGroupId)!
    for (const name of VIEW_NAMES) group.addViewport(name, this.engineId)
    group.addTool(PanTool.toolName)
    group.addTool(ZoomTool.toolName)
    group.addTool(StackScrollTool.toolName)
    group.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Auxiliary }] })
    group.setToolActive(ZoomTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Secondary }] })
    group.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Wheel }] })

    for (const name of VIEW_NAMES) {
      const element = this.elements[name]
      element.oncontextmenu = (e) => e.preventDefault()
      this.overlays.set(name, new CrosshairOverlay(element, name === 'mip' ? '#4fc3f7' : '#ffd54f'))
      this.listen(element, Enums.Events.CAMERA_MODIFIED, () => this.onCameraModified(name))
      this.listen(element, 'mousemove', (e) => this.probe(name, e as MouseEvent))
      this.listen(element, 'mousedown', (e) => this.onPointerDown(name, e as MouseEvent))
    }
  }

  destroy(): void {
    this.listenersToRemove.forEach((off) => off())
    ToolGroupManager.destroyToolGroup(this.toolGroupId)
    this.engine?.destroy()
    this.engine = null
  }

  /** Show a study; without a CT the orthogonal views show the PET alone. Old volumes leave the cache. */
  async setStudy(ct: VolumePayload | undefined, pet: VolumePayload, mask?: VolumePayload): Promise<void> {
    // While volumes are swapped, Cornerstone resets cameras; those are not the reader scrolling.
    this.settingStudy++
    try {
      await this.showVolumes(ct, pet, mask)
    } finally {
      this.settingStudy--
    }
    if (this.resizePending && this.settingStudy === 0) {
      this.resizePending = false
      this.resize()
    }
  }

  private settingStudy = 0

  private async showVolumes(ct: VolumePayload | undefined, pet: VolumePayload, mask: VolumePayload | undefined): Promise<void> {
    const engine = this.requireEngine()
    const generation = ++this.generation
    this.clearStudy()
    this.ct = ct ? { volumeId: `ct-${ct.info.id}`, payload: ct } : null
    this.pet = { volumeId: `pet-${pet.info.id}`, payload: pet }
    let t = performance.now()
    const lap = (what: string): void => {
      console.debug(`[lesionlab] ${what}: ${Math.round(performance.now() - t)} ms`)
      t = performance.now()
    }
    if (this.ct) createVolume(this.ct.volumeId, this.ct.payload)
    createVolume(this.pet.volumeId, pet)
    lap('volumes created')

    for (const name of ORTHO_VIEWS) {
      const viewport = engine.getViewport(name) as Types.IVolumeViewport
      await viewport.setVolumes([...(this.ct ? [{ volumeId: this.ct.volumeId }] : []), { volumeId: this.pet.volumeId }])
    }
    const mip = engine.getViewport('mip') as Types.IVolumeViewport
    const petGeometry = pet.info.geometry
    const diagonalMm = Math.hypot(...petGeometry.dims.map((n, a) => n * petGeometry.spacingMm[a]))
    lap('fused views set')
    await mip.setVolumes([
      { volumeId: this.pet.volumeId, blendMode: Enums.BlendModes.MAXIMUM_INTENSITY_BLEND, slabThickness: diagonalMm },
    ])
    lap('MIP set')
    if (generation !== this.generation) return

    if (mask) this.setMask(mask)
    this.applyCtWindow()
    this.applyPetDisplay()
    for (const name of VIEW_NAMES) engine.getViewport(name).resetCamera()
    this.setFocus(this.volumeCentre(pet))
    this.scheduleRender(VIEW_NAMES)
  }

  /** Show (or replace) the labelmap overlay. */
  setMask(mask: VolumePayload): void {
    this.removeMask()
    const volumeId = `mask-${mask.info.id}`
    createVolume(volumeId, mask)
    this.maskSegmentationId = volumeId
    segmentation.addSegmentations([
      {
        segmentationId: volumeId,
        representation: { type: ToolEnums.SegmentationRepresentations.Labelmap, data: { volumeId } },
      },
    ])
    for (const name of ORTHO_VIEWS) {
      segmentation.addLabelmapRepresentationToViewport(name, [{ segmentationId: volumeId }])
      for (let label = 1; label <= 8; label++) {
        segmentation.config.color.setSegmentIndexColor(name, volumeId, label, MASK_COLOURS[(label - 1) % MASK_COLOURS.length])
      }
    }
    segmentation.segmentationStyle.setStyle(
      { type: ToolEnums.SegmentationRepresentations.Labelmap },
      { renderOutline: true, outlineWidth: 2, renderFill: true, fillAlpha: 0.35 },
    )
  }

  setMaskVisible(visible: boolean): void {
    if (!this.maskSegmentationId) return
    for (const name of ORTHO_VIEWS) {
      segmentation.config.visibility.setSegmentationRepresentationVisibility(
        name,
        { segmentationId: this.maskSegmentationId, type: ToolEnums.SegmentationRepresentations.Labelmap },
        visible,
      )
    }
    this.scheduleRender(ORTHO_VIEWS)
  }

  setCtPreset(preset: CtPresetName): void {
    this.ctPreset = preset
    this.applyCtWindow()
  }

  setSuvWindow(upperSuv: number, lowerSuv = 0): void {
    this.suvWindow = { lower: lowerSuv, upper: Math.max(lowerSuv + 0.1, upperSuv) }
    this.applyPetDisplay()
  }

  setPetColormap(name: PetColormapName): void {
    this.petColormap = name
    this.applyPetDisplay()
  }

  setFusionOpacity(opacity: number): void {
    this.fusionOpacity = Math.min(1, Math.max(0, opacity))
    this.applyPetDisplay()
  }

  /** Move every view so it shows `worldLps`; the crosshair marks it. */
  setFocus(worldLps: Vec3): void {
    this.focus = [...worldLps]
    const engine = this.engine
    if (!engine) return
    for (const name of VIEW_NAMES) {
      const viewport = engine.getViewport(name) as Types.IVolumeViewport
      if (name !== 'mip') moveSliceTo(viewport, worldLps)
      this.overlays.get(name)?.draw(viewport, worldLps)
    }
    // The MIP's image does not depend on the focus (only its crosshair does): re-rendering a
    // whole-body ray cast on every drag step would be the slowest thing on screen.
    this.scheduleRender(ORTHO_VIEWS)
    this.onFocus(this.focus)
  }

  /** Coalesce render requests to one per animation frame (pointer events outpace the display). */
  private pendingRender = new Set<ViewName>()
  private scheduleRender(views: ViewName[]): void {
    const first = this.pendingRender.size === 0
    views.forEach((v) => this.pendingRender.add(v))
    if (!first) return
    requestAnimationFrame(() => {
      const ids = [...this.pendingRender]
      this.pendingRender.clear()
      this.engine?.renderViewports(ids)
    })
  }

  /**
   * New values for the shown PET on the same grid (an SUV correction): written into the existing
   * volume and re-uploaded, so the reader keeps slice, zoom and crosshair.
   */
  replacePetValues(pet: VolumePayload): void {
    if (!this.pet || !sameGrid(this.pet.payload.info.geometry, pet.info.geometry)) {
      throw new Error('replacePetValues needs a PET on the grid already shown')
    }
    const volume = cache.getVolume(this.pet.volumeId)
    const voxelManager = volume?.voxelManager
    if (!volume || !voxelManager?.setCompleteScalarDataArray) throw new Error('the shown PET is no longer in the cache')
    voxelManager.setCompleteScalarDataArray(displayable(pet.voxels))
    volume.invalidate()
    this.pet = { volumeId: this.pet.volumeId, payload: pet }
    this.applyPetDisplay()
  }

  getFocus(): Vec3 {
    return [...this.focus]
  }


  /** World-to-canvas (CSS pixels) for a view. */
  canvasAt(view: ViewName, worldLps: Vec3): [number, number] {
    const viewport = this.requireEngine().getViewport(view)
    return viewport.worldToCanvas(worldLps as Types.Point3) as [number, number]
  }

  /** The views' elements changed size. During a study swap the resize waits for the swap to finish. */
  resize(): void {
    if (this.settingStudy > 0) {
      this.resizePending = true
      return
    }
    // Cameras are refitted to the new size (kept cameras come out mis-zoomed when the aspect changes);
    // the crosshair position is kept: the refit's camera events are not the reader scrolling.
    const focus = this.getFocus()
    this.settingStudy++
    try {
      this.engine?.resize(true, false)
    } finally {
      this.settingStudy--
    }
    if (this.pet) this.setFocus(focus)
    else this.redrawOverlays()
  }

  private resizePending = false

  resetViews(): void {
    const engine = this.requireEngine()
    for (const name of VIEW_NAMES) engine.getViewport(name).resetCamera()
    this.setFocus(this.focus)
  }

  private applyCtWindow(): void {
    const engine = this.engine
    if (!engine || !this.ct) return
    const p = CT_PRESETS[this.ctPreset]
    for (const name of ORTHO_VIEWS) {
      const viewport = engine.getViewport(name) as Types.IVolumeViewport
      viewport.setProperties({ voiRange: voiRangeOf(p.widthHu, p.levelHu) }, this.ct.volumeId)
    }
    this.scheduleRender(ORTHO_VIEWS)
  }

  private applyPetDisplay(): void {
    const engine = this.engine
    if (!engine || !this.pet) return
    const { lower, upper } = this.suvWindow
    const name = this.petColormap === 'hot' ? HOT_COLORMAP : GREY_INVERTED_COLORMAP
    // An opacity ramp: background SUV stays transparent so the CT shows through, uptake above a
    // fifth of the window reaches the chosen opacity.
    // Without a CT there is nothing to fuse with: the PET is shown opaque.
    const a = this.ct ? this.fusionOpacity : 1
    const ramp = [
      { value: lower, opacity: this.ct ? 0 : 1 },
      { value: lower + 0.05 * (upper - lower), opacity: this.ct ? 0.15 * a : 1 },
      { value: lower + 0.2 * (upper - lower), opacity: a },
      { value: Math.max(upper, this.pet.payload.info.valueRange[1]), opacity: a },
    ]
    for (const view of ORTHO_VIEWS) {
      const viewport = engine.getViewport(view) as Types.IVolumeViewport
      // Colormap and VOI go in separate calls (stack notes: together, the VOI is lost).
      viewport.setProperties({ colormap: { name, opacity: ramp } }, this.pet.volumeId)
      viewport.setProperties({ voiRange: { lower, upper } }, this.pet.volumeId)
      neutraliseOpacityCorrection(viewport, this.pet.volumeId)
    }
    const mip = engine.getViewport('mip') as Types.IVolumeViewport
    mip.setProperties({ colormap: { name: GREY_INVERTED_COLORMAP } }, this.pet.volumeId)
    mip.setProperties({ voiRange: { lower, upper } }, this.pet.volumeId)
    this.scheduleRender(VIEW_NAMES)
  }

  private onCameraModified(name: ViewName): void {
    const engine = this.engine
    if (!engine || this.settingStudy > 0) return
    const viewport = engine.getViewport(name) as Types.IVolumeViewport
    if (name !== 'mip') {
      // Scrolling moved this view's slice: carry the focus along the view normal.
      const { focalPoint, viewPlaneNormal } = viewport.getCamera()
      const n = viewPlaneNormal as Vec3
      const f = focalPoint as Vec3
      const offset = (f[0] - this.focus[0]) * n[0] + (f[1] - this.focus[1]) * n[1] + (f[2] - this.focus[2]) * n[2]
      if (Math.abs(offset) > 1e-3) {
        this.setFocus([this.focus[0] + offset * n[0], this.focus[1] + offset * n[1], this.focus[2] + offset * n[2]])
        return
      }
    }
    this.overlays.get(name)?.draw(viewport, this.focus)
  }

  private redrawOverlays(): void {
    const engine = this.engine
    if (!engine) return
    for (const name of VIEW_NAMES) this.overlays.get(name)?.draw(engine.getViewport(name) as Types.IVolumeViewport, this.focus)
  }

  private onPointerDown(name: ViewName, e: MouseEvent): void {
    if (e.button !== 0 || !this.pet) return
    if (name !== 'mip' && this.editPointer && this.startEditGesture(name, e)) return
    const move = (ev: MouseEvent): void => this.focusFromPointer(name, ev)
    const up = (): void => {
      window.removeEventListener('mousemove', move)
      window.removeEventListener('mouseup', up)
    }
    this.focusFromPointer(name, e)
    // Only ortho views drag the crosshair; a MIP click is a jump to the hottest voxel.
    if (name !== 'mip') {
      window.addEventListener('mousemove', move)
      window.addEventListener('mouseup', up)
    }
  }

  /** An editing tool takes the left button on the orthogonal views (the crosshair stays put). */
  editPointer: EditPointerHandler | null = null

  private startEditGesture(name: ViewName, e: MouseEvent): boolean {
    const handler = this.editPointer!
    const at = (ev: MouseEvent): EditPointerEvent | null => {
      const world = this.pointerWorld(name, ev)
      if (!world) return null
      const viewport = this.requireEngine().getViewport(name) as Types.IVolumeViewport
      return { view: name, worldLps: world, viewPlaneNormal: viewport.getCamera().viewPlaneNormal as Vec3, shiftKey: ev.shiftKey }
    }
    const first = at(e)
    if (!first || !handler('down', first)) return false
    e.preventDefault()
    const move = (ev: MouseEvent): void => {
      const p = at(ev)
      if (p) handler('move', p)
    }
    const up = (ev: MouseEvent): void => {
      window.removeEventListener('mousemove', move)
      window.removeEventListener('mouseup', up)
      const p = at(ev)
      handler('up', p ?? first)
    }
    window.addEventListener('mousemove', move)
    window.addEventListener('mouseup', up)
    return true
  }

  /**
   * Write changed voxels into the shown labelmap (edits arrive as runs of flat indices with their new
   * values) and redraw; `keep` also updates the study's copy of the mask (a preview does not).
   */
  patchMask(runs: Int32Array, values: Uint8Array | number, target?: Uint8Array): void {
    if (!this.maskSegmentationId) return
    const volume = cache.getVolume(this.maskSegmentationId)
    const vm = volume?.voxelManager
    if (!vm) return
    let v = 0
    for (let r = 0; r < runs.length; r += 2) {
      const start = runs[r]
      const end = start + runs[r + 1]
      for (let i = start; i < end; i++, v++) {
        const value = typeof values === 'number' ? values : values[v]
        vm.setAtIndex(i, value)
        if (target) target[i] = value
      }
    }
    segmentation.triggerSegmentationEvents.triggerSegmentationDataModified(this.maskSegmentationId)
    this.scheduleRender(ORTHO_VIEWS)
  }

  /** Current labelmap values at flat indices (to restore after a preview). */
  maskValuesAt(indices: Int32Array): Uint8Array {
    const out = new Uint8Array(indices.length)
    const vm = this.maskSegmentationId ? cache.getVolume(this.maskSegmentationId)?.voxelManager : undefined
    if (vm) for (let n = 0; n < indices.length; n++) out[n] = Number(vm.getAtIndex(indices[n]) ?? 0)
    return out
  }

  private focusFromPointer(name: ViewName, e: MouseEvent): void {
    const world = this.pointerWorld(name, e)
    if (!world || !this.pet) return
    if (name === 'mip') {
      const viewport = this.requireEngine().getViewport('mip') as Types.IVolumeViewport
      const hottest = hottestAlongRay(this.pet.payload.info.geometry, this.pet.payload.voxels, world, viewport.getCamera().viewPlaneNormal as Vec3)
      this.setFocus(hottest?.worldLps ?? world)
    } else {
      this.setFocus(world)
    }
  }

  private pointerWorld(name: ViewName, e: MouseEvent): Vec3 | undefined {
    const engine = this.engine
    if (!engine) return undefined
    const rect = this.elements[name].getBoundingClientRect()
    const viewport = engine.getViewport(name)
    return viewport.canvasToWorld([e.clientX - rect.left, e.clientY - rect.top]) as Vec3
  }

  private probe(name: ViewName, e: MouseEvent): void {
    const world = this.pointerWorld(name, e)
    if (!world || !this.pet) return
    if (name === 'mip') {
      const viewport = this.requireEngine().getViewport('mip') as Types.IVolumeViewport
      const hottest = hottestAlongRay(this.pet.payload.info.geometry, this.pet.payload.voxels, world, viewport.getCamera().viewPlaneNormal as Vec3)
      this.onProbe({ view: name, worldLps: hottest?.worldLps ?? world, suv: hottest?.value })
      return
    }
    this.onProbe({
      view: name,
      worldLps: world,
      suv: valueAtWorld(this.pet.payload.info.geometry, this.pet.payload.voxels, world),
      hu: this.ct ? valueAtWorld(this.ct.payload.info.geometry, this.ct.payload.voxels, world) : undefined,
    })
  }

  private volumeCentre(v: VolumePayload): Vec3 {
    const g = v.info.geometry
    const c = g.dims.map((n, a) => ((n - 1) / 2) * g.spacingMm[a])
    const d = g.directionLps
    return [0, 1, 2].map((r) => g.originLps[r] + c[0] * d[r] + c[1] * d[3 + r] + c[2] * d[6 + r]) as Vec3
  }

  private removeMask(): void {
    if (!this.maskSegmentationId) return
    segmentation.removeSegmentation(this.maskSegmentationId)
    removeLocalVolume(this.maskSegmentationId)
    this.maskSegmentationId = null
  }

  private clearStudy(): void {
    this.removeMask()
    for (const v of [this.ct, this.pet]) if (v) removeLocalVolume(v.volumeId)
    this.ct = null
    this.pet = null
  }

  private requireEngine(): RenderingEngine {
    if (!this.engine) throw new Error('viewer is not mounted')
    return this.engine
  }

  private listen(target: EventTarget, type: string, handler: (e: Event) => void): void {
    target.addEventListener(type, handler)
    this.listenersToRemove.push(() => target.removeEventListener(type, handler))
  }
}


/** Lesion labels 1..8: colours that stay visible over a hot PET colour map. */
const MASK_COLOURS: Types.Color[] = [
  [0, 230, 118, 255],
  [41, 182, 246, 255],
  [234, 128, 252, 255],
  [255, 241, 118, 255],
  [255, 145, 0, 255],
  [29, 233, 182, 255],
  [130, 177, 255, 255],
  [255, 82, 82, 255],
]

/** Cornerstone3D renders Uint8, Int8, Uint16, Int16 and Float32 volumes; Int32 is widened to float. */
function displayable(voxels: VoxelArray): Uint8Array | Int8Array | Uint16Array | Int16Array | Float32Array {
  return voxels instanceof Int32Array ? Float32Array.from(voxels) : voxels
}

/**
 * Cornerstone3D 5.14 caches a local volume's slices as images ("<volumeId>_slice_<k>") that
 * removeVolumeLoadObject leaves behind; showing the same volume again (a mask re-shown after a
 * segmentation) then fails with "imageId already in cache". Remove both.
 */
function removeLocalVolume(volumeId: string): void {
  const imageIds = cache.getVolume(volumeId)?.imageIds ?? []
  if (cache.getVolumeLoadObject(volumeId)) cache.removeVolumeLoadObject(volumeId)
  for (const imageId of imageIds) if (cache.getImageLoadObject(imageId)) cache.removeImageLoadObject(imageId, { force: true })
}

function createVolume(volumeId: string, payload: VolumePayload): void {
  const g = payload.info.geometry
  const isLabel = payload.info.modality === 'SEG'
  volumeLoader.createLocalVolume(volumeId, {
    scalarData: displayable(payload.voxels),
    dimensions: [...g.dims] as Types.Point3,
    spacing: [...g.spacingMm] as Types.Point3,
    origin: [...g.originLps] as Types.Point3,
    direction: [...g.directionLps] as Types.Mat3,
    metadata: {
      BitsAllocated: payload.voxels.BYTES_PER_ELEMENT * 8,
      BitsStored: payload.voxels.BYTES_PER_ELEMENT * 8,
      SamplesPerPixel: 1,
      HighBit: payload.voxels.BYTES_PER_ELEMENT * 8 - 1,
      PhotometricInterpretation: 'MONOCHROME2',
      PixelRepresentation: payload.voxels instanceof Uint8Array || payload.voxels instanceof Uint16Array ? 0 : 1,
      Modality: isLabel ? 'SEG' : payload.info.modality,
      ImageOrientationPatient: [...g.directionLps.slice(0, 6)],
      PixelSpacing: [g.spacingMm[1], g.spacingMm[0]],
      FrameOfReferenceUID: 'lesionlab-study-frame',
      Columns: g.dims[0],
      Rows: g.dims[1],
      voiLut: [],
      VOILUTFunction: 'LINEAR',
    },
  })
}

/**
 * vtk.js scales opacity by sample distance over the property's unit distance (default 1 mm); through
 * Cornerstone's 0.05 mm slice slab that turns 0.6 into almost nothing, which is why fusion "looks
 * weaker than its nominal value". Setting the unit distance to the slab thickness makes the slider's
 * value the opacity the reader sees.
 */
function neutraliseOpacityCorrection(viewport: Types.IVolumeViewport, volumeId: string): void {
  const entry = viewport.getActors().find((a) => a.referencedId === volumeId || a.uid === volumeId)
  const actor = entry?.actor as unknown as { getProperty(): { setScalarOpacityUnitDistance(component: number, mm: number): void } } | undefined
  actor?.getProperty().setScalarOpacityUnitDistance(0, CONSTANTS.RENDERING_DEFAULTS.MINIMUM_SLAB_THICKNESS)
}

/** Shift a view's camera along its normal so its slice passes through `worldLps` (keeps pan/zoom). */
function moveSliceTo(viewport: Types.IVolumeViewport, worldLps: Vec3): void {
  const camera = viewport.getCamera()
  const n = camera.viewPlaneNormal as Vec3
  const f = camera.focalPoint as Vec3
  const p = camera.position as Vec3
  const offset = (worldLps[0] - f[0]) * n[0] + (worldLps[1] - f[1]) * n[1] + (worldLps[2] - f[2]) * n[2]
  if (Math.abs(offset) < 1e-6) return
  viewport.setCamera({
    focalPoint: [f[0] + offset * n[0], f[1] + offset * n[1], f[2] + offset * n[2]],
    position: [p[0] + offset * n[0], p[1] + offset * n[1], p[2] + offset * n[2]],
  })
}
