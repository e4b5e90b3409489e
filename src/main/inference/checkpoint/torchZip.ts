import { InputError } from '../../io/InputError'
import { readCheckpointBytes } from './readCheckpointBytes'
import { findStateDict, normaliseStateDictKeys } from './stateDict'
import { decodeTensor } from './tensorData'
import { CHECKPOINT_DTYPES, isCheckpointDtype, type CheckpointTensor } from './types'
import { unpickle, type PyTensor, type TorchStorage } from './unpickler'
import { ZipArchive } from './zipReader'

/*
 * Reads a checkpoint in torch.save's zip format (PyTorch >= 1.6): <archive>/data.pkl (a pickle whose tensors
 * refer to storages by key) and <archive>/data/<key> (each storage's raw bytes, in the order `byteorder`
 * names, little-endian when that record is absent). See torchSave.ts for the full layout.
 */

export async function readTorchCheckpoint(filePath: string): Promise<Map<string, CheckpointTensor>> {
  return decodeTorchCheckpoint(await readCheckpointBytes(filePath), filePath)
}

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && ((bytes[2] === 3 && bytes[3] === 4) || (bytes[2] === 5 && bytes[3] === 6))
}

/** torch.save's magic number 0x1950a86a20f9469cfc6c, little-endian, as the legacy format's first pickle holds it. */
const LEGACY_MAGIC = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]

/** True for the pre-1.6 format: a pickled LONG1 magic number (optionally after a protocol-4 FRAME). */
export function isLegacyTorchFile(bytes: Uint8Array): boolean {
  if (bytes[0] !== 0x80) return false
  let p = 2
  if (bytes[p] === 0x95) p += 9
  if (bytes[p] !== 0x8a || bytes[p + 1] !== 10) return false
  return LEGACY_MAGIC.every((b, i) => bytes[p + 2 + i] === b)
}

export const LEGACY_FORMAT_PROBLEM =
  'is in the old PyTorch format (before 1.6, not a zip archive), which LesionLab does not read; ' +
  're-save it with torch.save(torch.load(path), path, _use_new_zipfile_serialization=True), or as .safetensors'

export function decodeTorchCheckpoint(bytes: Uint8Array, filePath: string): Map<string, CheckpointTensor> {
  if (!isZip(bytes)) {
    throw new InputError(filePath, isLegacyTorchFile(bytes) ? LEGACY_FORMAT_PROBLEM : 'not a PyTorch checkpoint (torch.save writes a zip archive; this file is not one)')
  }
  const zip = ZipArchive.open(bytes, filePath)
  const prefix = archivePrefix(zip, filePath)
  if (zip.has(`${prefix}constants.pkl`) || [...zip.entries.keys()].some((n) => n.startsWith(`${prefix}code/`))) {
    throw new InputError(filePath, 'is a TorchScript model (torch.jit.save), not a state_dict; save the weights with torch.save(model.state_dict(), path)')
  }
  const littleEndian = byteOrder(zip, prefix, filePath)
  const root = unpickle(zip.read(`${prefix}data.pkl`), { filePath, recordName: `${prefix}data.pkl` })
  const tensors = normaliseStateDictKeys(findStateDict(root, filePath), filePath)

  const storages = new Map<string, { storage: TorchStorage; bytes: Uint8Array }>()
  const storageBytes = (s: TorchStorage): Uint8Array => {
    const known = storages.get(s.key)
    if (known) {
      if (known.storage.dtype !== s.dtype || known.storage.numel !== s.numel) {
        throw new InputError(filePath, `storage data/${s.key} is described twice, differently (${known.storage.numel} ${known.storage.dtype} and ${s.numel} ${s.dtype})`)
      }
      return known.bytes
    }
    const name = `${prefix}data/${s.key}`
    if (!zip.has(name)) throw new InputError(filePath, `the pickle refers to the storage ${name}, which the archive lacks`)
    const b = zip.read(name)
    if (b.length !== s.byteLength) {
      throw new InputError(filePath, `the storage ${name} holds ${b.length} bytes, but the pickle describes ${s.numel} ${s.dtype} elements (${s.byteLength} bytes)`)
    }
    storages.set(s.key, { storage: s, bytes: b })
    return b
  }

  const out = new Map<string, CheckpointTensor>()
  for (const [key, t] of tensors) out.set(key, materialise(key, t, storageBytes(t.storage), littleEndian, filePath))
  return out
}

function materialise(key: string, t: PyTensor, bytes: Uint8Array, littleEndian: boolean, filePath: string): CheckpointTensor {
  if (!isCheckpointDtype(t.dtype)) {
    throw new InputError(filePath, `the tensor ${key} is ${t.dtype}; LesionLab loads ${CHECKPOINT_DTYPES.join(', ')}`)
  }
  const decoded = decodeTensor(bytes, t.dtype, littleEndian, { shape: t.shape, stride: t.stride, offset: t.storageOffset })
  return { shape: [...t.shape], dtype: t.dtype, ...decoded }
}

/** The archive folder: torch writes every record under one top-level folder named after the file. */
function archivePrefix(zip: ZipArchive, filePath: string): string {
  const pickles = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n))
  if (pickles.length === 1) return pickles[0].slice(0, -'data.pkl'.length)
  if (pickles.length > 1) throw new InputError(filePath, `the archive holds ${pickles.length} data.pkl records (${pickles.join(', ')}); expected one`)
  throw new InputError(filePath, 'not a torch.save checkpoint: the zip archive has no <archive>/data.pkl record')
}

function byteOrder(zip: ZipArchive, prefix: string, filePath: string): boolean {
  if (!zip.has(`${prefix}byteorder`)) return true
  const order = new TextDecoder().decode(zip.read(`${prefix}byteorder`)).trim()
  if (order !== 'little' && order !== 'big') throw new InputError(filePath, `unknown byte order "${order.slice(0, 20)}" in ${prefix}byteorder`)
  return order === 'little'
}
