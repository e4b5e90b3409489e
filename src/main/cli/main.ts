import { infoCommand } from './commands/info'
import { suvCommand } from './commands/suv'
import { convertCommand } from './commands/convert'
import { modelCommand } from './commands/model'
import { segmentCommand } from './commands/segment'
import { evaluateCommand } from './commands/evaluate'
import { statsCommand } from './commands/stats'
import { trainCommand } from './commands/train'
import { UsageError } from './args'
import { closeItkWorker } from '../io/itk/itkWorker'

export interface Command {
  name: string
  summary: string
  usage: string
  run(args: string[]): Promise<number>
}

const COMMANDS: Command[] = [infoCommand, suvCommand, convertCommand, modelCommand, segmentCommand, trainCommand, evaluateCommand, statsCommand]

function help(): string {
  return [
    'lesionlab — PET/CT lesion segmentation review, on the command line',
    '',
    'Usage: lesionlab <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`),
    '',
    'Run "lesionlab <command> --help" for a command\'s options.',
    'The desktop app: "npm start" (Electron where installed, browser mode otherwise).',
  ].join('\n')
}

/** Entry point; returns the process exit code (0 ok, 1 failed, 2 usage error). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help())
    return name ? 0 : 2
  }
  if (name === '--version' || name === '-v') {
    const { APP_VERSION } = await import('../appVersion')
    console.log(APP_VERSION)
    return 0
  }
  const command = COMMANDS.find((c) => c.name === name)
  if (!command) {
    console.error(`lesionlab: unknown command "${name}"\n\n${help()}`)
    return 2
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`${command.summary}\n\nUsage: ${command.usage}`)
    return 0
  }
  try {
    return await command.run(rest)
  } catch (e) {
    console.error(`lesionlab ${name}: ${(e as Error).message}`)
    return e instanceof UsageError ? 2 : 1
  } finally {
    // The itk-wasm thread (MHA/NRRD) stays referenced through its stdio ports even when idle: without
    // this, a command that read or wrote MHA/NRRD never exits.
    await closeItkWorker()
  }
}
