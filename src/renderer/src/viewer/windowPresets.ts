/** CT window presets (width/level in HU), as radiology workstations name them. */
export const CT_PRESETS = {
  softTissue: { label: 'Soft tissue', key: '1', widthHu: 400, levelHu: 40 },
  lung: { label: 'Lung', key: '2', widthHu: 1500, levelHu: -600 },
  bone: { label: 'Bone', key: '3', widthHu: 1800, levelHu: 400 },
  brain: { label: 'Brain', key: '4', widthHu: 80, levelHu: 40 },
} as const
export type CtPresetName = keyof typeof CT_PRESETS

export function voiRangeOf(widthHu: number, levelHu: number): { lower: number; upper: number } {
  return { lower: levelHu - widthHu / 2, upper: levelHu + widthHu / 2 }
}

/** Default PET display window in SUV (body weight). */
export const DEFAULT_SUV_WINDOW = { lower: 0, upper: 10 }

export type PetColormapName = 'hot' | 'greyInverted'
