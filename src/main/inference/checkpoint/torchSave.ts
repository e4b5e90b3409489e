import { encodeTorchPickle, PickleDict, type Picklable, type SavedTensor } from './pickler'
import { encodeTorchStyleZip, type ZipRecord } from './zipWriter'

/*
 * torch.save's zip format (torch >= 1.6, records as torch 2.x's serialization._save writes them):
 *   <archive>/data.pkl                 the pickle (see pickler.ts)
 *   <archive>/.format_version          "1"
 *   <archive>/.storage_alignment       "64"
 *   <archive>/byteorder                "little"
 *   <archive>/data/<key>               each storage's raw little-endian bytes, keys '0', '1', ... in first use
 *   <archive>/version                  "3\n"
 *   <archive>/.data/serialization_id   40 digits
 * <archive> is the file name without extension when torch.save gets a path, "archive" for a file object.
 */

export interface TorchSaveOptions {
  archiveName?: string
  /** The 40-digit .data/serialization_id (torch derives it from record names and CRCs). */
  serializationId?: string
}

/** The bytes torch.save(root, f) would write. */
export function encodeTorchCheckpoint(root: Picklable, options: TorchSaveOptions = {}): Uint8Array {
  const prefix = `${options.archiveName ?? 'archive'}/`
  const { pickle, storages } = encodeTorchPickle(root)
  const text = (s: string): Uint8Array => new TextEncoder().encode(s)
  const records: ZipRecord[] = [
    { name: `${prefix}data.pkl`, data: pickle },
    { name: `${prefix}.format_version`, data: text('1') },
    { name: `${prefix}.storage_alignment`, data: text('64') },
    { name: `${prefix}byteorder`, data: text('little') },
    ...storages.map(({ key, storage }) => ({ name: `${prefix}data/${key}`, data: storage.bytes })),
    { name: `${prefix}version`, data: text('3\n') },
    { name: `${prefix}.data/serialization_id`, data: text(options.serializationId ?? '0'.repeat(40)) },
  ]
  return encodeTorchStyleZip(records)
}

/**
 * A state_dict as Module.state_dict() returns it: an OrderedDict of tensors whose `_metadata` attribute maps
 * each module prefix ('' for the root) to {'version': n}. Prefixes are derived from the keys in first-seen
 * order (torch also lists parameter-less modules, which keys cannot show).
 */
export function torchStateDict(entries: readonly (readonly [string, SavedTensor])[], moduleVersion: (prefix: string) => number = () => 1): PickleDict {
  const prefixes: string[] = []
  const seen = new Set<string>()
  for (const [key] of entries) {
    const parts = key.split('.').slice(0, -1)
    for (let i = 0; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('.')
      if (!seen.has(prefix)) {
        seen.add(prefix)
        prefixes.push(prefix)
      }
    }
  }
  const metadata = new PickleDict(
    prefixes.map((p) => [p, new PickleDict([['version', moduleVersion(p)]])] as const),
    true,
  )
  return new PickleDict(entries, true, new PickleDict([['_metadata', metadata]]))
}
