import { InputError } from '../../io/InputError'

/**
 * A checkpoint's pickle asks for a Python object outside the allow-list (a function to call, a class to build).
 * Weights files have no reason to do that, and `torch.load` would have run it; we only compared its name
 * against a list, so nothing was imported or executed.
 */
export class UnsafePickleError extends InputError {
  constructor(
    filePath: string,
    /** The dotted Python name the pickle asked for, e.g. `os.system`. */
    readonly globalName: string,
    action = 'uses',
  ) {
    super(
      filePath,
      `refused: the checkpoint's pickle ${action} ${globalName}, which a weights file has no reason to contain ` +
        '(only tensors, numbers, strings and containers are allowed), so it may be unsafe; nothing in it was run. ' +
        'If the file is yours, save only the weights: torch.save(model.state_dict(), path), or use .safetensors',
    )
    this.name = 'UnsafePickleError'
  }
}
