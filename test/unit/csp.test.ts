import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CONTENT_SECURITY_POLICY } from '../../src/main/api/contentSecurityPolicy'
import { REPO_ROOT } from './helpers/data'

/** Directives a <meta http-equiv> policy cannot carry (CSP3 §3.3: they are ignored there). */
const HEADER_ONLY = ['frame-ancestors', 'report-uri', 'report-to', 'sandbox']

/** A policy as { directive: sources }, checking each directive appears once. */
function parsePolicy(policy: string): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const part of policy.split(';')) {
    const tokens = part.trim().split(/\s+/).filter(Boolean)
    if (tokens.length === 0) continue
    const name = tokens[0].toLowerCase()
    if (out.has(name)) throw new Error(`directive ${name} appears twice`)
    out.set(name, tokens.slice(1))
  }
  return out
}

const html = readFileSync(join(REPO_ROOT, 'src', 'renderer', 'index.html'), 'utf8')

function metaPolicies(): string[] {
  const metas = [...html.matchAll(/<meta\b[^>]*>/gi)].map((m) => m[0])
  return metas
    .filter((m) => /http-equiv\s*=\s*["']content-security-policy["']/i.test(m))
    .map((m) => {
      const content = /\scontent\s*=\s*"([^"]*)"/i.exec(m) ?? /\scontent\s*=\s*'([^']*)'/i.exec(m)
      if (!content) throw new Error(`CSP meta tag without content: ${m}`)
      return content[1].replace(/&#39;|&apos;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&')
    })
}

describe('Content-Security-Policy', () => {
  it('index.html has exactly one CSP meta tag, before any script or stylesheet', () => {
    const policies = metaPolicies()
    expect(policies).toHaveLength(1)
    const metaAt = html.search(/http-equiv\s*=\s*["']content-security-policy["']/i)
    const firstResource = html.search(/<script\b|<link\b[^>]*stylesheet/i)
    expect(metaAt).toBeGreaterThan(0)
    expect(firstResource === -1 || metaAt < firstResource).toBe(true)
  })

  it("the meta tag's policy equals CONTENT_SECURITY_POLICY minus header-only directives", () => {
    const meta = parsePolicy(metaPolicies()[0])
    const header = parsePolicy(CONTENT_SECURITY_POLICY)
    const expected = new Map([...header].filter(([name]) => !HEADER_ONLY.includes(name)))
    // Directive by directive, order of directives irrelevant, order of sources kept.
    expect(Object.fromEntries(meta)).toEqual(Object.fromEntries(expected))
    for (const name of HEADER_ONLY) expect(meta.has(name), `${name} in the meta tag`).toBe(false)
  })

  it('the header policy keeps the directives the app relies on', () => {
    const header = parsePolicy(CONTENT_SECURITY_POLICY)
    expect(header.get('frame-ancestors')).toEqual(["'none'"])
    expect(header.get('object-src')).toEqual(["'none'"])
    expect(header.get('default-src')).toEqual(["'self'"])
    // No remote script, no eval beyond WebAssembly compilation.
    const scripts = header.get('script-src') ?? []
    expect(scripts).not.toContain("'unsafe-eval'")
    expect(scripts).not.toContain("'unsafe-inline'")
    expect(scripts.every((s) => s.startsWith("'"))).toBe(true)
  })
})
