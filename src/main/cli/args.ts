/** Tiny argument parser for the subcommands: positionals, `--flag` and `--key value`. */
export interface ParsedArgs {
  positionals: string[]
  flags: Set<string>
  options: Map<string, string>
}

export function parseArgs(argv: string[], valued: string[] = []): ParsedArgs {
  const out: ParsedArgs = { positionals: [], flags: new Set(), options: new Map() }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a.startsWith('--')) {
      const [key, inline] = a.slice(2).split('=', 2)
      if (valued.includes(key)) {
        const value = inline ?? argv[++i]
        if (value === undefined) throw new UsageError(`--${key} needs a value`)
        out.options.set(key, value)
      } else {
        out.flags.add(key)
      }
    } else {
      out.positionals.push(a)
    }
  }
  return out
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

export function rejectUnknown(args: ParsedArgs, flags: string[], usage: string): void {
  const unknown = [...args.flags].filter((f) => !flags.includes(f))
  if (unknown.length) throw new UsageError(`unknown option --${unknown[0]}\nUsage: ${usage}`)
}
