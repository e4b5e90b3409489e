import { resolve } from 'node:path'
import { defineConfig } from 'electron-vite'
import vue from '@vitejs/plugin-vue'

/**
 * Three builds: the Electron main process (plus its worker-thread entry), the sandboxed preload
 * (CommonJS: sandboxed preloads cannot be ES modules), and the Vue renderer. Browser mode and the
 * command line run the main-process sources directly through tsx and serve out/renderer.
 */
export default defineConfig({
  main: {
    build: {
      rolldownOptions: {
        input: {
          index: resolve(__dirname, 'src/main/electron/main.ts'),
          taskWorker: resolve(__dirname, 'src/main/workers/taskWorker.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      rolldownOptions: {
        input: { index: resolve(__dirname, 'src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(__dirname, 'src/renderer'),
    base: './',
    plugins: [vue()],
    build: {
      outDir: resolve(__dirname, 'out/renderer'),
      chunkSizeWarningLimit: 8000,
      rolldownOptions: { input: resolve(__dirname, 'src/renderer/index.html') },
    },
    worker: { format: 'es' },
  },
})
