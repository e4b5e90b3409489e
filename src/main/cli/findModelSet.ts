import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { InputError } from '../io/InputError'
import { listModelSets, readModelSet } from '../inference/modelSet/modelSetRegistry'

/** A model set by folder path, or by the id of an installed one. */
export async function findModelSet(ref: string) {
  const dir = resolve(ref)
  const set = (await stat(dir).catch(() => null))?.isDirectory() ? await readModelSet(dir, ref, 'user') : (await listModelSets()).find((s) => s.id === ref)
  if (!set) throw new InputError(ref, 'is neither a model set folder nor the id of an installed model set (see "lesionlab model list")')
  if (set.problem || !set.manifest) throw new InputError(set.dir, `the model set cannot be used: ${set.problem}`)
  return set
}
