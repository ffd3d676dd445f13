/**
 * @module
 * What the launchers hand `wrangler dev`: given an env file, wrangler stops reading `.dev.vars` by itself,
 * so `npm start` / `npm run worker` pass the developer's file first and their own after it (a later file
 * wins: checked against wrangler 4 by hand), and forward the worker's settings exported in the shell.
 * Tests start the worker without either, so a developer's settings cannot change them.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  REPO_ROOT,
  developerSetting,
  workerDevSettings,
  workerPort,
  workerStateFolder,
} from '../../../scripts/lib/wrangler-dev.ts'
import type { WorkerDevOptions } from '../../../scripts/lib/wrangler-dev.ts'

const base: WorkerDevOptions = {
  port: 8787,
  gpuNodes: 'http://127.0.0.1:8790',
  gpuNodeSecret: 'launcher-secret',
  adminToken: 'launcher-admin',
}
const shell = {
  GPU_BREAKER_FAILURES: '7',
  PLAYGROUND_ENABLED: 'true',
  GPU_NODE_SECRET: 'from-the-shell', // the launcher's own value wins over it
  HOME: '/home/someone', // not a worker setting: never forwarded
}

describe('workerDevSettings', () => {
  let folder: string
  let devVars: string
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'dev-settings-'))
    devVars = join(folder, '.dev.vars')
    await writeFile(devVars, 'GPU_ROUTE_MAX_ATTEMPTS=5\n')
  })
  afterAll(() => rm(folder, { recursive: true, force: true }))

  it("gives a launcher the developer's .dev.vars first and the shell's worker settings", () => {
    const options = { ...base, developerSettings: true }
    const { vars, envFiles } = workerDevSettings(options, '/tmp/launcher.vars', shell, devVars)
    expect(envFiles).toEqual([devVars, '/tmp/launcher.vars'])
    expect(vars).toEqual({
      GPU_BREAKER_FAILURES: '7',
      PLAYGROUND_ENABLED: 'true',
      ADMIN_TOKEN: 'launcher-admin',
      GPU_NODE_SECRET: 'launcher-secret',
      GPU_NODES: 'http://127.0.0.1:8790',
    })
  })

  it("reads a setting from the shell, else from .dev.vars, so a launcher's default does not replace it", async () => {
    const vars = join(folder, 'admin.vars')
    await writeFile(vars, '# local\nADMIN_TOKEN="from-dev-vars"\nPLAYGROUND_ENABLED=true\n')
    expect(developerSetting('ADMIN_TOKEN', {}, vars)).toBe('from-dev-vars')
    expect(developerSetting('PLAYGROUND_ENABLED', {}, vars)).toBe('true')
    expect(developerSetting('ADMIN_TOKEN', { ADMIN_TOKEN: 'from-shell' }, vars)).toBe('from-shell')
    expect(developerSetting('GPU_NODES', {}, vars)).toBeUndefined()
    // Set but empty is not unset: `GPU_NODES=` means no static nodes.
    expect(developerSetting('GPU_NODES', { GPU_NODES: '' }, vars)).toBe('')
    expect(developerSetting('ADMIN_TOKEN', {}, join(folder, 'absent.vars'))).toBeUndefined()
  })

  it('passes only its own file when there is no .dev.vars', () => {
    const options = { ...base, developerSettings: true }
    const missing = join(folder, 'absent.vars')
    const { envFiles } = workerDevSettings(options, '/tmp/launcher.vars', shell, missing)
    expect(envFiles).toEqual(['/tmp/launcher.vars'])
  })

  it("keeps a test's worker apart from the developer's settings; its own vars win", () => {
    const options = { ...base, vars: { GPU_NODES: '', GPU_ROUTE_DEADLINE_MS: '900' } }
    const { vars, envFiles } = workerDevSettings(options, '/tmp/launcher.vars', shell, devVars)
    expect(envFiles).toEqual(['/tmp/launcher.vars'])
    expect(vars).toEqual({
      ADMIN_TOKEN: 'launcher-admin',
      GPU_NODE_SECRET: 'launcher-secret',
      GPU_NODES: '',
      GPU_ROUTE_DEADLINE_MS: '900',
    })
  })
})

describe('workerPort', () => {
  it('is 8787 unless WORKER_PORT names another port', () => {
    expect(workerPort({})).toBe(8787)
    expect(workerPort({ WORKER_PORT: '' })).toBe(8787)
    expect(workerPort({ WORKER_PORT: '28787' })).toBe(28787)
    for (const bad of ['0', '70000', '87.5', 'http://127.0.0.1:1', '-1'])
      expect(() => workerPort({ WORKER_PORT: bad })).toThrow(/WORKER_PORT must be a port number/)
  })

  it('gives a worker on another port a state folder of its own (its own tenants and dev key)', () => {
    expect(workerStateFolder(8787)).toBeUndefined()
    expect(workerStateFolder(28787)).toBe(join(REPO_ROOT, '.wrangler', 'state-28787'))
  })
})
