/**
 * PET-aware editing operations on the working mask (uint8 on the PET grid). Every operation is pure:
 * it returns which voxels to write and the value, never touching the mask or any I/O, so a tool composes
 * them (shape -> thresholdGate -> paint/erase) and the caller records the undo diff (`diffOf`).
 */
export * from './edits'
export * from './growRegion'
export * from './components'
export * from './shapes'
