import { readdir, stat } from 'node:fs/promises'
import { basename, dirname, join, relative } from 'node:path'
import type { Tracer } from '../../shared/study'
import { InputError } from '../io/InputError'

/** Where the images of one study are, once its layout is recognised. */
export interface StudyFiles {
  layout: string
  name: string
  ctPath: string
  petPath: string
  maskPath?: string
  tracer: Tracer
}

const NIFTI = /\.nii(\.gz)?$/i
const stripNifti = (name: string): string => name.replace(NIFTI, '')

/** FDG or PSMA from an autoPET / nnU-Net case name (`fdg_...`, `psma_...`). */
export function tracerFromName(name: string): Tracer {
  const n = name.toLowerCase()
  if (/(^|[^a-z])fdg([^a-z]|$)/.test(n)) return 'FDG'
  if (/(^|[^a-z])psma([^a-z]|$)/.test(n)) return 'PSMA'
  return 'unknown'
}

async function kindOf(path: string): Promise<'dir' | 'file' | 'missing'> {
  try {
    const s = await stat(path)
    return s.isDirectory() ? 'dir' : 'file'
  } catch {
    return 'missing'
  }
}

async function listNames(dir: string): Promise<string[]> {
  try {
    return await readdir(dir)
  } catch (e) {
    throw new InputError(dir, `cannot list the folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
  }
}

/**
 * Recognise a study from a folder or a file:
 * - autoPET per-study folder: CTres.nii.gz + SUV.nii.gz (optional SEG.nii.gz);
 * - nnU-Net pair: <case>_0000.nii.gz (CT on the PET grid) + <case>_0001.nii.gz (SUV), label
 *   <case>.nii.gz beside them or in a sibling labelsTr/ (or labelsTs/) folder; the path may be either
 *   image of the pair or a folder holding exactly one pair;
 * - CT/ and PET/ subfolders, each holding one NIfTI image (searched a few levels down, e.g.
 *   CT/nifti/image/image.nii.gz), with a mask in PET/ (e.g. PET/nifti/mask/mask.nii.gz).
 */
export async function detectStudyFiles(path: string): Promise<StudyFiles> {
  const kind = await kindOf(path)
  if (kind === 'missing') throw new InputError(path, 'no such file or folder')
  if (kind === 'file') {
    const m = /^(.*)_000[01]\.nii(\.gz)?$/i.exec(basename(path))
    if (!m) {
      throw new InputError(path, 'a single file is not a study: open its folder, an nnU-Net "_0000"/"_0001" image, or pick a CT and a PET file')
    }
    return nnunetPair(dirname(path), m[1])
  }
  const names = await listNames(path)
  const has = (n: string): string | undefined => names.find((x) => x.toLowerCase() === n.toLowerCase())

  const suv = has('SUV.nii.gz') ?? has('SUV.nii')
  const ctres = has('CTres.nii.gz') ?? has('CTres.nii')
  if (suv && ctres) {
    const seg = has('SEG.nii.gz') ?? has('SEG.nii')
    return {
      layout: 'autoPET study folder',
      name: basename(path),
      ctPath: join(path, ctres),
      petPath: join(path, suv),
      maskPath: seg ? join(path, seg) : undefined,
      tracer: tracerFromName(basename(path)),
    }
  }

  const cases = [...new Set(names.map((n) => /^(.*)_0000\.nii(\.gz)?$/i.exec(n)?.[1]).filter((c): c is string => !!c))]
  if (cases.length === 1) return nnunetPair(path, cases[0])
  if (cases.length > 1) {
    throw new InputError(path, `holds ${cases.length} nnU-Net cases (${cases.slice(0, 3).join(', ')}…); open one case's _0000 file`)
  }

  const ctDir = has('CT')
  const petDir = has('PET') ?? has('PT')
  if (ctDir && petDir) {
    const ctImages = await findNiftiImages(join(path, ctDir))
    const petImages = await findNiftiImages(join(path, petDir))
    // Judge only the part of a path below the study folder: its parents may be called anything.
    const below = (p: string): string => relative(path, p)
    const pick = (list: string[]): string | undefined => list.find((p) => !/mask|seg|label/i.test(basename(p)) && !/[/\\](mask|seg|labels?)[/\\]/i.test(below(p)))
    const ctPath = pick(ctImages)
    const petPath = pick(petImages)
    if (ctPath && petPath) {
      const maskPath = petImages.find((p) => p !== petPath && /mask|seg|label/i.test(below(p)))
      return { layout: 'CT/ and PET/ folders', name: basename(path), ctPath, petPath, maskPath, tracer: tracerFromName(basename(path)) }
    }
  }
  if (suv || ctres) {
    throw new InputError(path, `looks like an autoPET folder but ${suv ? 'CTres.nii.gz' : 'SUV.nii.gz'} is missing`)
  }
  throw new InputError(
    path,
    'no study found here: expected CTres.nii.gz + SUV.nii.gz (autoPET), <case>_0000/_0001.nii.gz (nnU-Net), or CT/ and PET/ subfolders with NIfTI images',
  )
}

async function nnunetPair(dir: string, caseName: string): Promise<StudyFiles> {
  const names = await listNames(dir)
  const find = (suffix: string): string | undefined => {
    const n = names.find((x) => x === `${caseName}${suffix}.nii.gz` || x === `${caseName}${suffix}.nii`)
    return n ? join(dir, n) : undefined
  }
  const ctPath = find('_0000')
  const petPath = find('_0001')
  if (!ctPath || !petPath) {
    throw new InputError(join(dir, caseName), `nnU-Net case is incomplete: ${ctPath ? '' : `${caseName}_0000 (CT) `}${petPath ? '' : `${caseName}_0001 (PET)`}missing`)
  }
  let maskPath = find('')
  if (!maskPath) {
    for (const labels of ['labelsTr', 'labelsTs']) {
      const candidate = join(dirname(dir), labels, `${caseName}.nii.gz`)
      if ((await kindOf(candidate)) === 'file') maskPath = candidate
    }
  }
  return { layout: 'nnU-Net case', name: caseName, ctPath, petPath, maskPath, tracer: tracerFromName(caseName) }
}

/** NIfTI files up to three folders below `dir`, in a stable order. */
async function findNiftiImages(dir: string, depth = 3): Promise<string[]> {
  const out: string[] = []
  const names = (await listNames(dir)).sort()
  for (const n of names) {
    const p = join(dir, n)
    const k = await kindOf(p)
    if (k === 'file' && NIFTI.test(n)) out.push(p)
    else if (k === 'dir' && depth > 0) out.push(...(await findNiftiImages(p, depth - 1)))
  }
  return out
}

export function caseNameOf(filePath: string): string {
  return stripNifti(basename(filePath))
}
