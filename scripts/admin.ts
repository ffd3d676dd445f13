/**
 * @module
 * `npm run admin -- <command>`: the operator's CLI for tenants, keys, limits and usage. It only calls the
 * worker's admin API (ADMIN_URL, default http://127.0.0.1:8787 or the WORKER_PORT given; ADMIN_TOKEN,
 * default `dev-admin-token`, the token `npm start` uses), so it works the same against `wrangler dev` and
 * a deployed worker. Prints JSON. A command refuses options it would not read, rather than drop them.
 */
import { parseArgs } from 'node:util'
import { AdminApiError, createAdminClient } from './lib/admin-client.ts'
import { developerSetting, workerPortOrExit } from './lib/wrangler-dev.ts'

const HELP = `Usage: npm run admin -- <command> [options]

  tenants create --name <name> [limit options]     create a tenant
  tenants list                                     list tenants
  keys create <tenant-id> [--name <name>] [--expires-at <ISO date-time | Unix seconds>]
                          [--models <id,id>] [--key <value to import>] [limit options]
                                                   issue a key (shown once)
  keys list <tenant-id>                            list a tenant's keys (prefixes only)
  keys revoke <key-id>                             revoke a key (effective for the next request)
  keys rotate <key-id> [--grace-seconds <n>]       issue a replacement; the old key stops after the grace
  limits set <tenant-id> [limit options] [--per-user]
                                                   change a tenant's limits (--per-user: each end user's)
  limits set --key <key-id> [limit options]        change one key's limits
  usage <tenant-id> [--start YYYY-MM-DD] [--end YYYY-MM-DD] [--key-id <key-id>]
                                                   usage per UTC day

Limit options (a number, or "none" to remove the limit; limits you leave out keep their value):
  --rpm  --tpm  --concurrency  --daily-tokens  --monthly-tokens

Environment: ADMIN_URL (default http://127.0.0.1:8787, or WORKER_PORT's), ADMIN_TOKEN (default
the one in .dev.vars, else dev-admin-token).`

const LIMIT_OPTIONS = {
  rpm: 'rpm',
  tpm: 'tpm',
  concurrency: 'concurrency',
  'daily-tokens': 'daily_tokens',
  'monthly-tokens': 'monthly_tokens',
} as const

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  name: { type: 'string' },
  'expires-at': { type: 'string' },
  models: { type: 'string' },
  key: { type: 'string' },
  'grace-seconds': { type: 'string' },
  'per-user': { type: 'boolean' },
  start: { type: 'string' },
  end: { type: 'string' },
  'key-id': { type: 'string' },
  ...Object.fromEntries(Object.keys(LIMIT_OPTIONS).map((name) => [name, { type: 'string' }])),
} as const

/** The command line; a malformed one is a usage error (exit 2), not a stack. */
function readArgs() {
  try {
    return parseArgs({ allowPositionals: true, options: OPTIONS })
  } catch (error) {
    if (!(error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) throw error
    console.error(`${(error as Error).message}\n\n${HELP}`)
    process.exit(2)
  }
}

const { values, positionals } = readArgs()

class UsageError extends Error {}

const LIMIT_NAMES = Object.keys(LIMIT_OPTIONS)

/** What each command reads: its words and arguments, and its options. */
const COMMANDS: Record<string, { positionals: number; options: readonly string[] }> = {
  'tenants create': { positionals: 2, options: ['name', ...LIMIT_NAMES] },
  'tenants list': { positionals: 2, options: [] },
  'keys create': {
    positionals: 3,
    options: ['name', 'expires-at', 'models', 'key', ...LIMIT_NAMES],
  },
  'keys list': { positionals: 3, options: [] },
  'keys revoke': { positionals: 3, options: [] },
  'keys rotate': { positionals: 3, options: ['grace-seconds'] },
  'limits set': { positionals: 3, options: ['key', 'per-user', ...LIMIT_NAMES] },
  usage: { positionals: 2, options: ['start', 'end', 'key-id'] },
}

/**
 * Refuses what `command` would not read, so that no option or argument is silently dropped (`keys create
 * --grace-seconds 60` would otherwise create a key with no grace period and say nothing).
 */
function checkArguments(command: string): void {
  const accepted = COMMANDS[command]
  if (!accepted) return
  const given = Object.keys(values).filter((option) => option !== 'help')
  const foreign = given.find((option) => !accepted.options.includes(option))
  if (foreign) throw new UsageError(`'${command}' does not take --${foreign}.`)
  const extra = positionals[accepted.positionals]
  if (extra !== undefined) throw new UsageError(`Unexpected argument '${extra}'.`)
  if (command === 'limits set' && values.key && positionals[2] !== undefined)
    throw new UsageError('limits set takes a tenant id or --key <key-id>, not both.')
  if (command === 'limits set' && values.key && values['per-user'])
    throw new UsageError(
      "--per-user sets a tenant's limits for each end user; it does not go with --key.",
    )
}

/** A number stays a number; anything else goes to the API as given, which names the field it rejects. */
function value(text: string): unknown {
  if (text === 'none') return null
  const number = Number(text)
  return text.trim() !== '' && Number.isFinite(number) ? number : text
}

function limitsFromOptions(): Record<string, unknown> {
  const limits: Record<string, unknown> = {}
  for (const [option, field] of Object.entries(LIMIT_OPTIONS)) {
    const given = (values as Record<string, unknown>)[option]
    if (typeof given === 'string') limits[field] = value(given)
  }
  return limits
}

function required(index: number, what: string): string {
  const found = positionals[index]
  if (!found) throw new UsageError(`Missing ${what}.`)
  return found
}

function query(params: Record<string, string | undefined>): string {
  const entries = Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined)
  return entries.length > 0 ? `?${new URLSearchParams(entries).toString()}` : ''
}

async function run(): Promise<unknown> {
  const admin = createAdminClient(
    process.env.ADMIN_URL || `http://127.0.0.1:${workerPortOrExit()}`,
    developerSetting('ADMIN_TOKEN') || 'dev-admin-token',
  )
  const command = positionals[0] === 'usage' ? 'usage' : positionals.slice(0, 2).join(' ')
  checkArguments(command)
  switch (command) {
    case 'tenants create': {
      if (!values.name) throw new UsageError('tenants create needs --name.')
      return admin.request('POST', '/tenants', { name: values.name, limits: limitsFromOptions() })
    }
    case 'tenants list':
      return admin.request('GET', '/tenants')
    case 'keys create': {
      const body: Record<string, unknown> = { limits: limitsFromOptions() }
      if (values.name) body.name = values.name
      if (values['expires-at']) body.expires_at = value(values['expires-at'])
      if (values.models !== undefined) {
        const models = values.models.split(',').map((m) => m.trim())
        if (models.some((m) => m === ''))
          throw new UsageError('--models needs model ids, e.g. gemma-3n-e2b-it.')
        body.allowed_models = models
      }
      if (values.key) body.key = values.key
      return admin.request('POST', `/tenants/${required(2, 'the tenant id')}/keys`, body)
    }
    case 'keys list':
      return admin.request('GET', `/tenants/${required(2, 'the tenant id')}/keys`)
    case 'keys revoke':
      return admin.request('DELETE', `/keys/${required(2, 'the key id')}`)
    case 'keys rotate': {
      const grace = values['grace-seconds']
      const body = grace === undefined ? {} : { grace_seconds: value(grace) }
      return admin.request('POST', `/keys/${required(2, 'the key id')}/rotate`, body)
    }
    case 'limits set': {
      const limits = limitsFromOptions()
      if (values.key) return admin.request('PUT', `/keys/${values.key}/limits`, limits)
      const tenantId = required(2, 'the tenant id (or --key <key-id>)')
      const body = values['per-user'] ? { per_user: limits } : limits
      return admin.request('PUT', `/tenants/${tenantId}/limits`, body)
    }
    case 'usage': {
      const params = { start: values.start, end: values.end, key_id: values['key-id'] }
      return admin.request('GET', `/tenants/${required(1, 'the tenant id')}/usage${query(params)}`)
    }
    default:
      throw new UsageError(command ? `Unknown command '${command}'.` : 'No command given.')
  }
}

if (values.help) {
  console.log(HELP)
} else {
  try {
    console.log(JSON.stringify(await run(), null, 2))
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n\n${HELP}`)
      process.exitCode = 2
    } else if (error instanceof AdminApiError) {
      console.error(`Error${error.status ? ` (HTTP ${error.status})` : ''}: ${error.message}`)
      process.exitCode = 1
    } else {
      throw error
    }
  }
}
