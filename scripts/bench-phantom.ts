/**
 * Times the synthetic phantom at both scales and tracers. Run: npx tsx scripts/bench-phantom.ts
 * Prints wall time per study (a first, cold run includes JIT warm-up, so each is run twice).
 */
import { makePhantomStudy } from '../src/main/demo/phantom'
import type { PhantomTracer } from '../src/main/demo/anatomy'
import type { PhantomScale } from '../src/main/demo/grids'

for (const scale of ['small', 'demo'] as PhantomScale[]) {
  for (const tracer of ['FDG', 'PSMA'] as PhantomTracer[]) {
    for (const run of ['cold', 'warm']) {
      const t0 = performance.now()
      const study = makePhantomStudy({ tracer, scale })
      const ms = performance.now() - t0
      const masked = study.lesions.reduce((n, l) => n + l.voxelCount, 0)
      console.log(
        `${scale.padEnd(5)} ${tracer.padEnd(4)} ${run}: ${ms.toFixed(0).padStart(5)} ms  ` +
          `PET ${study.pet.geometry.dims.join('x')}  CT ${study.ct.geometry.dims.join('x')}  ` +
          `${study.lesions.length} lesions, ${masked} mask voxels`,
      )
    }
  }
}
