import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../../gpu-node/config.ts'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'node-config-'))
})
afterAll(async () => rm(dir, { recursive: true, force: true }))

async function file(name: string, content: string): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, content)
  return path
}

describe('GPU node configuration', () => {
  it('has defaults and generates a secret when none is set', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 8790,
      maxRunning: 16,
      stepsAhead: 2,
      drainMs: 30_000,
      modelDir: null,
    })
    expect(config.secretGenerated).toBe(true)
    expect(config.secrets[0]!.length).toBeGreaterThanOrEqual(24)
  })

  it('reads two secrets for a rotation and the heartbeat settings', () => {
    const config = loadConfig({
      GPU_NODE_SECRET: ' new-secret-0123456789 , old-secret-0123456789 ',
      GPU_NODE_PORT: '9001',
      GPU_NODE_EDGE_URL: 'https://edge.example/',
      GPU_NODE_ID: 'gpu-a',
      GPU_NODE_HEARTBEAT_SECONDS: '2',
    })
    expect(config.secrets).toEqual(['new-secret-0123456789', 'old-secret-0123456789'])
    expect(config.heartbeat).toEqual({
      edgeUrl: 'https://edge.example',
      publicUrl: 'http://127.0.0.1:9001',
      nodeId: 'gpu-a',
      intervalMs: 2_000,
    })
    expect(loadConfig({}).heartbeat).toBeNull()
  })

  it.each([
    [{ GPU_NODE_PORT: '99999' }, /GPU_NODE_PORT=99999 is not an integer between 0 and 65535/],
    [{ GPU_NODE_MAX_RUNNING: 'many' }, /GPU_NODE_MAX_RUNNING=many/],
    [{ GPU_NODE_STEPS_AHEAD: '3' }, /GPU_NODE_STEPS_AHEAD=3 is not an integer between 1 and 2/],
    [{ GEMMA_DEVICE: 'tpu' }, /GEMMA_DEVICE=tpu is not one of cpu, cuda, webgpu, wasm/],
    [{ GEMMA_RUNTIME: 'python' }, /GEMMA_RUNTIME=python is not one of node, web/],
    [{ GPU_NODE_SECRET: 'a,b,c' }, /at most two secrets/],
    [{ GPU_NODE_SECRET: 'change-me' }, /still the example's placeholder "change-me": generate one/],
    [
      { GPU_NODE_SECRET: 'long-enough-secret-1,short', GPU_NODE_HOST: '0.0.0.0' },
      /at least 16 characters on a node listening on 0\.0\.0\.0 \(beyond this machine\)/,
    ],
    [
      { GPU_NODE_SECRET: 'short', GPU_NODE_EDGE_URL: 'https://edge.example' },
      /at least 16 characters on a node that joins an edge by heartbeats/,
    ],
    [{ GPU_NODE_METRICS_TOKEN: 'short' }, /GPU_NODE_METRICS_TOKEN must be at least 16 characters/],
    [{ GPU_NODE_MAX_QUEUED: '0' }, /GPU_NODE_MAX_QUEUED=0 is not an integer between 1 and 100000/],
    [
      { GPU_NODE_HOST: '::', GPU_NODE_EDGE_URL: 'https://edge.example' },
      /GPU_NODE_PUBLIC_URL is needed with GPU_NODE_EDGE_URL when GPU_NODE_HOST=::/,
    ],
    [{ GPU_NODE_EDGE_URL: 'ftp://edge' }, /GPU_NODE_EDGE_URL=ftp:\/\/edge is not an http\(s\) URL/],
    [
      { GPU_NODE_EDGE_URL: 'https://edge.example', GPU_NODE_ID: 'no spaces' },
      /GPU_NODE_ID=no spaces/,
    ],
  ])('names the variable and what it accepts (%o)', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError)
    expect(() => loadConfig(env)).toThrow(message)
  })

  it('takes a short secret on loopback only, and announces an IPv6 host in brackets', () => {
    expect(loadConfig({ GPU_NODE_SECRET: 's' }).secrets).toEqual(['s'])
    const secret = 'a-secret-of-some-length'
    expect(loadConfig({ GPU_NODE_SECRET: secret, GPU_NODE_HOST: '0.0.0.0' }).host).toBe('0.0.0.0')
    const ipv6 = loadConfig({ GPU_NODE_HOST: '::1', GPU_NODE_EDGE_URL: 'https://edge.example' })
    expect(ipv6.heartbeat?.publicUrl).toBe('http://[::1]:8790')
  })

  it('reads a config file, the environment winning over it', async () => {
    const path = await file(
      'node.json',
      JSON.stringify({ GPU_NODE_PORT: 9000, GPU_NODE_MAX_RUNNING: '8', GPU_NODE_DRAIN_SECONDS: 5 }),
    )
    const config = loadConfig({
      GPU_NODE_CONFIG: path,
      GPU_NODE_MAX_RUNNING: '4',
      GPU_NODE_STEPS_AHEAD: '1',
    })
    expect(config).toMatchObject({ port: 9000, maxRunning: 4, drainMs: 5_000, stepsAhead: 1 })
  })

  it.each([
    ['unknown.json', JSON.stringify({ GPU_NODE_PORTS: 1 }), /unknown setting "GPU_NODE_PORTS"/],
    ['array.json', '[1]', /must hold a JSON object/],
    ['broken.json', '{"GPU_NODE_PORT":', /is not valid JSON/],
    [
      'nested.json',
      JSON.stringify({ GPU_NODE_PORT: { value: 1 } }),
      /must be a string or a number/,
    ],
  ])('refuses a bad config file (%s)', async (name, content, message) => {
    const path = await file(name, content)
    expect(() => loadConfig({ GPU_NODE_CONFIG: path })).toThrow(message)
  })

  it('does not quote a broken config file, which may hold the secret', async () => {
    const path = await file('secret.json', '{"GPU_NODE_SECRET": TopSecretValue-XYZ-987}')
    const error = (() => {
      try {
        loadConfig({ GPU_NODE_CONFIG: path })
      } catch (caught) {
        return caught as Error
      }
      throw new Error('loadConfig accepted a broken file')
    })()
    expect(error.message).toMatch(/is not valid JSON/)
    expect(error.message).not.toMatch(/TopSecret|Secret/)
  })

  it('refuses a missing config file', () => {
    expect(() => loadConfig({ GPU_NODE_CONFIG: join(dir, 'absent.json') })).toThrow(
      /cannot be read/,
    )
  })
})
