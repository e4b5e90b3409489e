/** The element types a checkpoint tensor may have on disk and still be loaded. */
export type CheckpointDtype = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64'

/**
 * One tensor of a loaded state_dict, C-contiguous (row-major) whatever its strides on disk.
 * `data` always holds the values as float32 (float16/bfloat16 exactly, float64 rounded, int64 converted, exact
 * up to 2^24, which covers BatchNorm's `num_batches_tracked` counters); an int64 tensor also keeps its
 * exact values in `int64Data`. A scalar has shape [] and one value.
 */
export interface CheckpointTensor {
  shape: number[]
  data: Float32Array
  dtype: CheckpointDtype
  int64Data?: BigInt64Array
}

/** Every element type a PyTorch storage can name that the readers recognise (only CheckpointDtype ones load). */
export type TorchDtype = CheckpointDtype | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool'

export const DTYPE_BYTES: Readonly<Record<TorchDtype, number>> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
}

export const CHECKPOINT_DTYPES: readonly CheckpointDtype[] = ['float32', 'float16', 'bfloat16', 'float64', 'int64']

export function isCheckpointDtype(dtype: string): dtype is CheckpointDtype {
  return (CHECKPOINT_DTYPES as readonly string[]).includes(dtype)
}
