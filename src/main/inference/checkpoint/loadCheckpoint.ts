import { InputError } from '../../io/InputError'
import { readCheckpointBytes } from './readCheckpointBytes'
import { decodeSafetensors, looksLikeSafetensors } from './safetensors'
import { decodeTorchCheckpoint, isLegacyTorchFile, isZip, LEGACY_FORMAT_PROBLEM } from './torchZip'
import type { CheckpointTensor } from './types'

export type CheckpointFormat = 'torch-zip' | 'safetensors' | 'torch-legacy' | 'pickle' | 'empty' | 'unknown'

/** What a file is, from its first bytes (the extension is not trusted: .pt, .pth, .ckpt and .bin all occur). */
export function sniffCheckpointFormat(bytes: Uint8Array): CheckpointFormat {
  if (bytes.length === 0) return 'empty'
  if (isZip(bytes)) return 'torch-zip'
  if (isLegacyTorchFile(bytes)) return 'torch-legacy'
  if (looksLikeSafetensors(bytes)) return 'safetensors'
  if (bytes[0] === 0x80 && bytes[1] >= 2 && bytes[1] <= 5) return 'pickle'
  return 'unknown'
}

/**
 * Loads a state_dict from a PyTorch checkpoint (torch.save's zip format, optionally wrapped in a training
 * dict) or a .safetensors file. Keys come back as MONAI's UNet names them ('model.0.conv...'), tensors
 * contiguous with float data. Every failure is an InputError naming the file; a pickle that asks for anything
 * beyond plain data and tensors is an UnsafePickleError, and nothing in it is ever run.
 */
export async function loadCheckpointFile(path: string): Promise<Map<string, CheckpointTensor>> {
  return decodeCheckpoint(await readCheckpointBytes(path), path)
}

export function decodeCheckpoint(bytes: Uint8Array, filePath: string): Map<string, CheckpointTensor> {
  const format = sniffCheckpointFormat(bytes)
  switch (format) {
    case 'torch-zip':
      return decodeTorchCheckpoint(bytes, filePath)
    case 'safetensors':
      return decodeSafetensors(bytes, filePath)
    case 'torch-legacy':
      throw new InputError(filePath, LEGACY_FORMAT_PROBLEM)
    case 'pickle':
      throw new InputError(filePath, 'is a bare Python pickle, not a torch.save checkpoint (zip) or .safetensors; save the weights with torch.save(model.state_dict(), path)')
    case 'empty':
      throw new InputError(filePath, 'the file is empty')
    case 'unknown': {
      const head = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ')
      throw new InputError(filePath, `not a PyTorch (.pt/.pth, zip) or .safetensors checkpoint (it starts with ${head})`)
    }
  }
}
