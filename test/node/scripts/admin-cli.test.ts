/**
 * @module
 * The admin CLI's own errors, before any request: a malformed command line is a usage error (exit 2, the
 * reason and the help), never a stack trace.
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { REPO_ROOT } from '../../../scripts/lib/wrangler-dev.ts'

const run = promisify(execFile)

async function admin(...args: string[]) {
  const script = join(REPO_ROOT, 'scripts', 'admin.ts')
  // Nothing listens there: a command that got as far as a request would fail differently.
  const env = { ...process.env, ADMIN_URL: 'http://127.0.0.1:9' }
  return run(process.execPath, [script, ...args], { env }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  )
}

describe('npm run admin', () => {
  it.each([
    [['limits', 'set', 't1', '--rpm', '-5'], /'--rpm' argument is ambiguous/],
    [['tenants', 'list', '--token', 'x'], /Unknown option '--token'/],
    [['keys', 'frobnicate'], /Unknown command 'keys frobnicate'/],
    [['keys', 'revoke'], /Missing the key id/],
    [
      ['keys', 'create', 't1', '--grace-seconds', '60'],
      /'keys create' does not take --grace-seconds/,
    ],
    [['keys', 'rotate', 'k1', '--rpm', '5'], /'keys rotate' does not take --rpm/],
    [['usage', 't1', '--name', 'x'], /'usage' does not take --name/],
    [['keys', 'revoke', 'k1', 'k2'], /Unexpected argument 'k2'/],
    [['limits', 'set', '--key', 'k1', '--per-user', '--rpm', '5'], /does not go with --key/],
    [
      ['limits', 'set', 't1', '--key', 'k1', '--rpm', '5'],
      /a tenant id or --key <key-id>, not both/,
    ],
    [['keys', 'create', 't1', '--models', ''], /--models needs model ids/],
  ])('refuses %j with the reason and the help', async (args, reason) => {
    const { code, stderr } = await admin(...args)
    expect(code).toBe(2)
    expect(stderr).toMatch(reason)
    expect(stderr).toContain('Usage: npm run admin')
    expect(stderr).not.toMatch(/\n\s+at /) // no stack
  })
})
