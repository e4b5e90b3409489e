/** Keyboard shortcuts: one table drives the key handler and the help overlay. */
export type ShortcutAction =
  | 'ctSoftTissue' | 'ctLung' | 'ctBone' | 'ctBrain'
  | 'petColormap' | 'toggleMask' | 'opacityUp' | 'opacityDown' | 'suvUp' | 'suvDown'
  | 'viewAxial' | 'viewCoronal' | 'viewSagittal' | 'viewMip' | 'viewGrid' | 'resetViews'
  | 'openStudy' | 'suvPanel' | 'saveMask' | 'lesionPanel' | 'fineTune' | 'help'
  | 'toolNavigate' | 'toolBrush' | 'toolEraser' | 'toolGrow' | 'toolDelete' | 'toolScissors' | 'toolSplit' | 'toolMerge'
  | 'brushSmaller' | 'brushLarger' | 'undo' | 'redo' | 'acceptPreview' | 'nextUnreviewed' | 'acceptLesion' | 'rejectLesion'

export const SHORTCUTS: { keys: string; match: (e: KeyboardEvent) => boolean; id: ShortcutAction; action: string }[] = [
  { keys: '1', match: (e) => e.key === '1', id: 'ctSoftTissue', action: 'CT window: soft tissue (W400 L40)' },
  { keys: '2', match: (e) => e.key === '2', id: 'ctLung', action: 'CT window: lung (W1500 L-600)' },
  { keys: '3', match: (e) => e.key === '3', id: 'ctBone', action: 'CT window: bone (W1800 L400)' },
  { keys: '4', match: (e) => e.key === '4', id: 'ctBrain', action: 'CT window: brain (W80 L40)' },
  { keys: 'i', match: (e) => e.key === 'i', id: 'petColormap', action: 'PET colour map: hot / inverted grey' },
  { keys: 'm', match: (e) => e.key === 'm', id: 'toggleMask', action: 'Show / hide the mask' },
  { keys: '+ / -', match: (e) => e.key === '+' || e.key === '=', id: 'opacityUp', action: 'Fusion opacity up / down' },
  { keys: '', match: (e) => e.key === '-', id: 'opacityDown', action: '' },
  { keys: 'PgUp / PgDn', match: (e) => e.key === 'PageUp', id: 'suvUp', action: 'PET window: SUV max up / down' },
  { keys: '', match: (e) => e.key === 'PageDown', id: 'suvDown', action: '' },
  { keys: 'a', match: (e) => e.key === 'a', id: 'viewAxial', action: 'Axial view only' },
  { keys: 'c', match: (e) => e.key === 'c', id: 'viewCoronal', action: 'Coronal view only' },
  { keys: 's', match: (e) => e.key === 's', id: 'viewSagittal', action: 'Sagittal view only' },
  { keys: 'p', match: (e) => e.key === 'p', id: 'viewMip', action: 'PET MIP only' },
  { keys: 'v', match: (e) => e.key === 'v', id: 'viewGrid', action: 'All four views' },
  { keys: 'r', match: (e) => e.key === 'r', id: 'resetViews', action: 'Reset zoom and pan' },
  { keys: 'Ctrl+O', match: (e) => (e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'o', id: 'openStudy', action: 'Open study' },
  { keys: 'u', match: (e) => e.key === 'u', id: 'suvPanel', action: 'SUV panel (how SUV was computed; correct weight, dose, times)' },
  { keys: 'Ctrl+S', match: (e) => (e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 's', id: 'saveMask', action: 'Save the mask (NIfTI, MHA, DICOM SEG)' },
  { keys: 'l', match: (e) => e.key === 'l', id: 'lesionPanel', action: 'Show / hide the lesion table' },
  { keys: 'Shift+T', match: (e) => e.key === 'T', id: 'fineTune', action: 'Fine-tune a model set on corrected cases' },
  { keys: 'Esc', match: (e) => e.key === 'Escape', id: 'toolNavigate', action: 'Navigate (no editing tool); drops a grow preview' },
  { keys: 'b', match: (e) => e.key === 'b', id: 'toolBrush', action: 'Brush (paint the working mask; SUV gate optional)' },
  { keys: 'e', match: (e) => e.key === 'e', id: 'toolEraser', action: 'Eraser' },
  { keys: 'g', match: (e) => e.key === 'g' && !e.ctrlKey, id: 'toolGrow', action: 'Grow a lesion from a click (41 % / 50 % of local SUVmax); click again or Enter to accept' },
  { keys: 'd', match: (e) => e.key === 'd', id: 'toolDelete', action: 'Delete the lesion under a click' },
  { keys: 'k', match: (e) => e.key === 'k' && !e.ctrlKey, id: 'toolScissors', action: 'Scissors: drag a rectangle to erase (Shift: fill), this slice or all slices' },
  { keys: 't', match: (e) => e.key === 't', id: 'toolSplit', action: 'Split a lesion: click it, then the part to cut off' },
  { keys: 'j', match: (e) => e.key === 'j', id: 'toolMerge', action: 'Merge two lesions: click one, then the other' },
  { keys: '[ / ]', match: (e) => e.key === '[', id: 'brushSmaller', action: 'Brush smaller / larger' },
  { keys: '', match: (e) => e.key === ']', id: 'brushLarger', action: '' },
  { keys: 'Ctrl+Z', match: (e) => (e.ctrlKey || e.metaKey) && !e.shiftKey && e.key.toLowerCase() === 'z', id: 'undo', action: 'Undo' },
  { keys: 'Ctrl+Y / Ctrl+Shift+Z', match: (e) => (e.ctrlKey || e.metaKey) && (e.key.toLowerCase() === 'y' || (e.shiftKey && e.key.toLowerCase() === 'z')), id: 'redo', action: 'Redo' },
  { keys: 'Enter', match: (e) => e.key === 'Enter', id: 'acceptPreview', action: 'Accept the grow preview' },
  { keys: 'n', match: (e) => e.key === 'n', id: 'nextUnreviewed', action: 'Next unreviewed lesion' },
  { keys: 'y / x', match: (e) => e.key === 'y' && !e.ctrlKey, id: 'acceptLesion', action: 'Accept / reject the selected lesion (rejecting removes it)' },
  { keys: '', match: (e) => e.key === 'x', id: 'rejectLesion', action: '' },
  { keys: '?', match: (e) => e.key === '?' || e.key === 'h', id: 'help', action: 'This help' },
]

export function shortcutFor(e: KeyboardEvent): ShortcutAction | undefined {
  const target = e.target as HTMLElement | null
  if (target && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA' || target.tagName === 'SELECT')) return undefined
  if ((e.ctrlKey || e.metaKey) && !['o', 's', 'z', 'y'].includes(e.key.toLowerCase())) return undefined
  return SHORTCUTS.find((s) => s.match(e))?.id
}
