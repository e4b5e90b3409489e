/**
 * An input the user gave us is unusable. The message names the file and the problem in words a reader
 * understands; transports pass it through unchanged, the UI shows it, the CLI prints it.
 */
export class InputError extends Error {
  constructor(
    readonly filePath: string,
    problem: string,
  ) {
    super(`${filePath}: ${problem}`)
    this.name = 'InputError'
  }
}
