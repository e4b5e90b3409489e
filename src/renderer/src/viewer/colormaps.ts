import { utilities } from '@cornerstonejs/core'

export const HOT_COLORMAP = 'lesionlab-hot'
export const GREY_INVERTED_COLORMAP = 'lesionlab-grey-inverted'

let registered = false

/**
 * Cornerstone3D has no GPU "hot" map built in (stack notes), so we register the classic black-red-
 * yellow-white ramp, and an inverted grey for PET alone (dark = hot, as nuclear medicine reads MIPs).
 */
export function registerPetColormaps(): void {
  if (registered) return
  registered = true
  utilities.colormap.registerColormap({
    Name: HOT_COLORMAP,
    ColorSpace: 'RGB',
    // x, r, g, b
    RGBPoints: [0, 0, 0, 0, 0.4, 0.9, 0, 0, 0.75, 1, 0.8, 0, 1, 1, 1, 1],
  })
  utilities.colormap.registerColormap({
    Name: GREY_INVERTED_COLORMAP,
    ColorSpace: 'RGB',
    RGBPoints: [0, 1, 1, 1, 1, 0, 0, 0],
  })
}
