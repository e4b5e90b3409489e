import type { Vec3 } from '../../shared/geometry'
import type { Tracer } from '../../shared/study'
import type { Shape } from './shapes'

/**
 * The phantom's anatomy as data: an ordered list of solid parts in LPS millimetres (x = patient left,
 * y = posterior, z = superior), body centred on x = y = 0, head top near z = 0 and mid thigh near
 * z = -880. Later parts override earlier ones where they overlap, which is how organs are carved out of
 * the body, a fat layer is left under the skin, and the brain sits inside the skull.
 *
 * Proportions are those of an adult shrunk along z by about 0.8, so that head top to mid thigh fits the
 * ~880 mm field of view while organs keep roughly adult widths. Nothing here depends on the seed: the
 * seed moves lesions and noise only, so every demo study shares one recognisable anatomy.
 */

export type PhantomTracer = Exclude<Tracer, 'unknown'>

export type TissueKind =
  | 'fat'
  | 'soft'
  | 'airway'
  | 'lung'
  | 'blood'
  | 'myocardium'
  | 'liver'
  | 'spleen'
  | 'kidney'
  | 'bladder'
  | 'brain'
  | 'salivary'
  | 'bone'
  | 'marrow'

export interface TissueProperties {
  hu: number
  /** Physiological uptake (SUVbw) of each tracer. */
  suv: Record<PhantomTracer, number>
}

/** Value of everything outside the body. */
export const AIR: TissueProperties = { hu: -1000, suv: { FDG: 0, PSMA: 0 } }

/**
 * Typical CT numbers and physiological uptake. FDG: glucose-avid brain and myocardium, urinary
 * excretion into the bladder. PSMA: salivary glands, kidneys, spleen and liver express or clear the
 * ligand, the brain does not.
 */
export const TISSUES: Record<TissueKind, TissueProperties> = {
  fat: { hu: -100, suv: { FDG: 0.4, PSMA: 0.2 } },
  soft: { hu: 40, suv: { FDG: 0.8, PSMA: 0.4 } },
  airway: { hu: -950, suv: { FDG: 0.05, PSMA: 0.05 } },
  lung: { hu: -850, suv: { FDG: 0.4, PSMA: 0.3 } },
  blood: { hu: 40, suv: { FDG: 1.8, PSMA: 1.2 } },
  myocardium: { hu: 45, suv: { FDG: 5, PSMA: 1 } },
  liver: { hu: 60, suv: { FDG: 2.5, PSMA: 5 } },
  spleen: { hu: 50, suv: { FDG: 2, PSMA: 7 } },
  kidney: { hu: 35, suv: { FDG: 3, PSMA: 35 } },
  bladder: { hu: 10, suv: { FDG: 25, PSMA: 30 } },
  brain: { hu: 35, suv: { FDG: 9, PSMA: 0.3 } },
  salivary: { hu: 15, suv: { FDG: 1.8, PSMA: 18 } },
  // Cortical bone (skull, ribs, long bones) and the red-marrow bones of the axial skeleton.
  bone: { hu: 700, suv: { FDG: 1, PSMA: 0.6 } },
  marrow: { hu: 500, suv: { FDG: 1.5, PSMA: 0.6 } },
}

export interface AnatomyPart {
  name: string
  tissue: TissueKind
  shape: Shape
}

const ellipsoid = (centreLps: Vec3, radiiMm: Vec3): Shape => ({ kind: 'ellipsoid', centreLps, radiiMm })
const capsule = (aLps: Vec3, bLps: Vec3, radiusMm: number): Shape => ({ kind: 'capsule', aLps, bLps, radiusMm })
const cylinderZ = (centreXyMm: [number, number], radiiXyMm: [number, number], zMinMm: number, zMaxMm: number): Shape =>
  ({ kind: 'cylinderZ', centreXyMm, radiiXyMm, zMinMm, zMaxMm })

/** Both sides of a paired structure; `make` receives +1 for patient left, -1 for patient right. */
function bilateral(name: string, tissue: TissueKind, make: (side: 1 | -1) => Shape): AnatomyPart[] {
  return [
    { name: `${name} left`, tissue, shape: make(1) },
    { name: `${name} right`, tissue, shape: make(-1) },
  ]
}

/** Shrinks a body piece radially (not along z, where pieces join each other) to leave a fat layer. */
function inset(s: Shape, mm: number): Shape {
  switch (s.kind) {
    case 'ellipsoid':
      return ellipsoid(s.centreLps, [s.radiiMm[0] - mm, s.radiiMm[1] - mm, s.radiiMm[2] - mm])
    case 'cylinderZ':
      return cylinderZ(s.centreXyMm, [s.radiiXyMm[0] - mm, s.radiiXyMm[1] - mm], s.zMinMm, s.zMaxMm)
    case 'capsule':
      return capsule(s.aLps, s.bLps, s.radiusMm - mm)
  }
}

/** Outer body envelope pieces with the subcutaneous fat thickness of each. */
const BODY: Array<{ name: string; shape: Shape; fatMm: number }> = [
  { name: 'head', shape: ellipsoid([0, 5, -95], [78, 96, 90]), fatMm: 4 },
  { name: 'face', shape: ellipsoid([0, -10, -175], [70, 78, 62]), fatMm: 4 },
  { name: 'neck', shape: cylinderZ([0, 12], [58, 58], -275, -170), fatMm: 4 },
  { name: 'shoulders', shape: ellipsoid([0, 0, -300], [175, 112, 50]), fatMm: 12 },
  { name: 'trunk', shape: cylinderZ([0, 0], [172, 112], -770, -300), fatMm: 12 },
  { name: 'buttocks', shape: ellipsoid([0, 0, -770], [172, 112, 40]), fatMm: 12 },
  ...[1, -1].map((side) => ({
    name: side > 0 ? 'thigh left' : 'thigh right',
    shape: capsule([95 * side, 12, -720], [100 * side, 12, -1000], 85),
    fatMm: 10,
  })),
  ...[1, -1].map((side) => ({
    name: side > 0 ? 'arm left' : 'arm right',
    shape: capsule([200 * side, 15, -290], [210 * side, 20, -740], 34),
    fatMm: 6,
  })),
]

/** Vertebrae from C2 to L5: a body (cylinder) and a posterior arch (capsule) each. */
function spine(): AnatomyPart[] {
  const parts: AnatomyPart[] = []
  const heightMm = 17
  for (let zc = -190, n = 0; zc >= -640; zc -= 23, n++) {
    const region = zc > -265 ? 'cervical' : zc > -500 ? 'thoracic' : 'lumbar'
    const body =
      region === 'cervical' ? { y: 18, r: [12, 10] as [number, number], archEnd: 45, archR: 5 }
        : region === 'thoracic' ? { y: 45, r: [17, 14] as [number, number], archEnd: 85, archR: 6 }
          : { y: 42, r: [22, 17] as [number, number], archEnd: 82, archR: 7 }
    parts.push({
      name: `vertebral body ${region} ${n}`,
      tissue: 'marrow',
      shape: cylinderZ([0, body.y], body.r, zc - heightMm / 2, zc + heightMm / 2),
    })
    parts.push({
      name: `vertebral arch ${region} ${n}`,
      tissue: 'bone',
      shape: capsule([0, body.y + body.r[1] + body.archR, zc], [0, body.archEnd, zc - 6], body.archR),
    })
  }
  return parts
}

/**
 * Eleven rib pairs, each an arc on an ellipse around the lungs from beside the spine to the front,
 * dropping anteriorly as real ribs do, approximated by five capsules.
 */
function ribs(): AnatomyPart[] {
  const parts: AnatomyPart[] = []
  const [a, b, yCentre] = [148, 85, 5]
  const [posteriorDeg, anteriorDeg, dropMm, segments] = [75, -65, 35, 5]
  for (let r = 0; r < 11; r++) {
    const zTop = -295 - 19 * r
    for (const side of [1, -1]) {
      const at = (f: number): Vec3 => {
        const theta = ((posteriorDeg + f * (anteriorDeg - posteriorDeg)) * Math.PI) / 180
        return [side * a * Math.cos(theta), yCentre + b * Math.sin(theta), zTop - dropMm * f]
      }
      for (let s = 0; s < segments; s++) {
        parts.push({
          name: `rib ${r + 1} ${side > 0 ? 'left' : 'right'} segment ${s}`,
          tissue: 'bone',
          shape: capsule(at(s / segments), at((s + 1) / segments), 5),
        })
      }
    }
  }
  return parts
}

/** The femoral shaft axis, shared by the femur parts and the bone landmark. */
const femurShaft = (side: number): [Vec3, Vec3] => [[118 * side, 10, -735], [105 * side, 12, -1000]]

function buildParts(): AnatomyPart[] {
  const parts: AnatomyPart[] = [
    ...BODY.map(({ name, shape }) => ({ name: `${name} fat`, tissue: 'fat' as const, shape })),
    ...BODY.map(({ name, shape, fatMm }) => ({ name, tissue: 'soft' as const, shape: inset(shape, fatMm) })),

    ...bilateral('lung', 'lung', (s) => ellipsoid([72 * s, 8, -380], [55, 58, 100])),
    { name: 'trachea', tissue: 'airway', shape: capsule([0, -5, -215], [0, 0, -335], 9) },
    { name: 'myocardium', tissue: 'myocardium', shape: ellipsoid([15, -30, -420], [55, 45, 55]) },
    { name: 'cardiac blood pool', tissue: 'blood', shape: ellipsoid([15, -28, -420], [40, 30, 42]) },
    { name: 'ascending aorta', tissue: 'blood', shape: capsule([8, -25, -400], [8, -25, -350], 12) },
    { name: 'aortic arch', tissue: 'blood', shape: capsule([8, -25, -350], [16, 20, -330], 11) },
    { name: 'descending aorta', tissue: 'blood', shape: capsule([16, 20, -330], [8, 18, -640], 11) },
    { name: 'liver', tissue: 'liver', shape: ellipsoid([-65, -5, -515], [85, 78, 65]) },
    { name: 'spleen', tissue: 'spleen', shape: ellipsoid([85, 35, -505], [26, 38, 45]) },
    ...bilateral('kidney', 'kidney', (s) => ellipsoid([75 * s, 48, -550], [24, 20, 48])),
    { name: 'bladder', tissue: 'bladder', shape: ellipsoid([0, -45, -700], [42, 38, 35]) },
    ...bilateral('parotid gland', 'salivary', (s) => ellipsoid([48 * s, 12, -180], [11, 15, 18])),
    ...bilateral('submandibular gland', 'salivary', (s) => ellipsoid([32 * s, -30, -212], [10, 12, 10])),

    // Skull before brain, so the brain hollows it out and leaves a 7 mm shell.
    { name: 'skull', tissue: 'bone', shape: ellipsoid([0, 5, -95], [71, 89, 83]) },
    { name: 'brain', tissue: 'brain', shape: ellipsoid([0, 5, -95], [64, 82, 76]) },
    ...spine(),
    ...ribs(),
    { name: 'sternum', tissue: 'marrow', shape: capsule([0, -78, -300], [0, -82, -450], 9) },
    ...bilateral('clavicle', 'bone', (s) => capsule([25 * s, -70, -285], [135 * s, -25, -290], 7)),
    ...bilateral('humerus', 'bone', (s) => capsule([200 * s, 15, -295], [208 * s, 18, -520], 11)),
    ...bilateral('iliac wing', 'marrow', (s) => ellipsoid([100 * s, 40, -640], [40, 12, 45])),
    ...bilateral('ischium', 'marrow', (s) => capsule([90 * s, 40, -665], [80 * s, 5, -720], 14)),
    ...bilateral('pubic ramus', 'marrow', (s) => capsule([80 * s, 5, -720], [15 * s, -55, -725], 9)),
    { name: 'sacrum', tissue: 'marrow', shape: ellipsoid([0, 75, -655], [38, 14, 45]) },
    ...bilateral('femoral head', 'bone', (s) => ellipsoid([92 * s, 8, -712], [22, 22, 22])),
    ...bilateral('femoral neck', 'bone', (s) => capsule([92 * s, 8, -712], [122 * s, 10, -735], 12)),
    ...bilateral('femoral shaft', 'bone', (s) => capsule(femurShaft(s)[0], femurShaft(s)[1], 14)),
  ]
  // Labels are stored as Uint8 with 0 for air.
  if (parts.length > 255) throw new Error(`Phantom has ${parts.length} parts; at most 255 fit a Uint8 label`)
  return parts
}

/** All parts in painting order; part n is label n + 1 in a label raster (0 = outside the body). */
export const PHANTOM_PARTS: readonly AnatomyPart[] = buildParts()

const lerp = (a: Vec3, b: Vec3, t: number): Vec3 => [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]), a[2] + t * (b[2] - a[2])]

/**
 * Points well inside organs (at least one PET voxel from any boundary at demo scale), for tests and for
 * anyone who wants to probe a known tissue.
 */
export const PHANTOM_LANDMARKS_LPS = {
  lungLeft: [72, 8, -380] as Vec3,
  lungRight: [-72, 8, -380] as Vec3,
  bloodPool: [15, -28, -420] as Vec3,
  myocardium: [62, -30, -420] as Vec3,
  liver: [-80, -10, -520] as Vec3,
  spleen: [85, 30, -505] as Vec3,
  kidneyLeft: [75, 48, -550] as Vec3,
  kidneyRight: [-75, 48, -550] as Vec3,
  bladder: [0, -45, -700] as Vec3,
  brain: [0, 5, -85] as Vec3,
  parotidLeft: [48, 12, -180] as Vec3,
  parotidRight: [-48, 12, -180] as Vec3,
  submandibularLeft: [32, -30, -212] as Vec3,
  thighMuscleLeft: [70, -30, -850] as Vec3,
  femurShaftLeft: lerp(femurShaft(1)[0], femurShaft(1)[1], 0.45),
  /** Centre of the lumbar vertebral body at z = -558. */
  vertebralBodyLumbar: [0, 42, -558] as Vec3,
}
