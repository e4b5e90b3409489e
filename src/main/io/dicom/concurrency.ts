/**
 * Runs task(0 .. count-1) with at most `limit` at once, so file reads overlap dcmjs's synchronous
 * parsing; rejects with the first failure.
 */
export async function forEachConcurrently(count: number, limit: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0
  let failed = false
  const worker = async (): Promise<void> => {
    while (next < count && !failed) {
      try {
        await task(next++)
      } catch (e) {
        failed = true
        throw e
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker))
}
