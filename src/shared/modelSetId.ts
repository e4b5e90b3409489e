/** The folder id of a model set called `name` (what the main process creates; the renderer predicts it). */
export function modelSetId(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'model-set'
}
