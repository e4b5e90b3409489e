#!/usr/bin/env node
// The `lesionlab` command line. Runs the main-process TypeScript sources through tsx, so it works
// right after `npm install`, with no build step.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../src/main/cli/main.ts')
process.exitCode = await main(process.argv.slice(2))
