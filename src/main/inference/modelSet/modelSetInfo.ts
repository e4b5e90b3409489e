import type { ModelSetInfo, ModelSetListing } from '../../../shared/api/contract'
import { listModelSets, modelSetLocations, type InstalledModelSet } from './modelSetRegistry'

/** What the app shows of a model set. */
export function modelSetInfo(set: InstalledModelSet): ModelSetInfo {
  const m = set.manifest
  return {
    id: set.id,
    name: m?.name,
    version: m?.version,
    description: m?.description,
    intendedUse: m?.intendedUse,
    tracers: m?.tracers,
    // The sub-pixel graphs are the same folds' weights in another form (for WebGPU), not more folds.
    folds: m?.folds.filter((f) => f.convTranspose === 'native').length,
    parameters: m?.architecture.parameters,
    location: set.location,
    dir: set.dir,
    problem: set.problem,
  }
}

export const HOW_TO_ADD_MODELS =
  'No trained model set is installed. Add one from the authors\' five-fold checkpoints with ' +
  '"npx lesionlab model add --name autopet3-resunet fold0.pth fold1.pth fold2.pth fold3.pth fold4.pth" ' +
  '(PyTorch .pth/.pt or .safetensors state_dicts), or copy a model set folder (model.json + ONNX files) into the folder shown.'

export async function listModelSetInfos(): Promise<ModelSetListing> {
  const sets = await listModelSets()
  return { sets: sets.map(modelSetInfo), userDir: modelSetLocations().user, howToAdd: HOW_TO_ADD_MODELS }
}
