// Worker bootstrap when running from TypeScript sources (CLI, browser mode, tests): register tsx in
// this thread, then load the real worker. The Electron build starts the bundled taskWorker.js instead.
import { register } from 'tsx/esm/api'

register()
await import('./taskWorker.ts')
