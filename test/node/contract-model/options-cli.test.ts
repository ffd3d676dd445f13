/**
 * @module test/contract-model/options-cli
 * Option defaults and validation, folder naming, and the CLI's argument handling.
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  DEFAULT_OPTIONS,
  cacheDtypeFor,
  resolveOptions,
} from '../../../gpu-node/contract-model/options.ts'
import { contractModelFolderName } from '../../../gpu-node/contract-model/cache.ts'
import { parseCliArgs } from '../../../gpu-node/contract-model/cli.ts'
import { tempRoot } from './helpers.ts'

const run = promisify(execFile)
const CLI = join(import.meta.dirname, '../../../gpu-node/contract-model/cli.ts')

let root: string
let cleanup: () => Promise<void>
beforeAll(async () => {
  ;({ root, cleanup } = await tempRoot())
})
afterAll(async () => {
  await cleanup()
})

describe('resolveOptions', () => {
  it('defaults to the Gemma vocabulary on a tiny body, kvLayers following layers', () => {
    expect(resolveOptions({})).toEqual(DEFAULT_OPTIONS)
    expect(DEFAULT_OPTIONS.vocab).toBe('gemma')
    expect(resolveOptions({ layers: 6 }).kvLayers).toBe(6)
    expect(resolveOptions({ layers: 6, kvLayers: 2 }).kvLayers).toBe(2)
  })

  it.each([
    [{ vocab: 'big' }, /vocab/],
    [{ layers: 0 }, /layers/],
    [{ layers: 2, kvLayers: 3 }, /kvLayers/],
    [{ heads: 3, kvHeads: 2 }, /multiple of kvHeads/],
    [{ headDim: 31 }, /headDim must be even/],
    [{ dtypes: ['fp64'] }, /unknown dtype "fp64"/],
    [{ dtypes: [] }, /non-empty/],
    [{ cacheDtype: 'bfloat16' }, /cacheDtype/],
    [{ hiddenSize: 3 }, /unknown option "hiddenSize"/],
    [{ groupQueryAttention: true, attentionMask: false }, /needs attentionMask/],
    [{ groupQueryAttention: true, layers: 4, kvLayers: 2 }, /kvLayers equal to layers/],
  ])('rejects %j', (partial, message) => {
    expect(() => resolveOptions(partial as never)).toThrow(message)
  })

  it('uses a float16 cache for fp16/q4f16 files whatever cacheDtype says', () => {
    const o = resolveOptions({ cacheDtype: 'float32' })
    expect(cacheDtypeFor('q4f16', o)).toBe('float16')
    expect(cacheDtypeFor('q4', o)).toBe('float32')
    expect(cacheDtypeFor('q8', resolveOptions({ cacheDtype: 'float16' }))).toBe('float16')
  })

  it('names cache folders by options and a hash that changes with them', () => {
    const a = contractModelFolderName(resolveOptions({ vocab: 'small' }))
    expect(a).toMatch(/^small-L4kv4-h64-a2x1d32-p16-f128-mask-float32-fp32-s1-[0-9a-f]{10}$/)
    expect(contractModelFolderName(resolveOptions({ vocab: 'small', seed: 2 }))).not.toBe(a)
    const gqa = contractModelFolderName(
      resolveOptions({ vocab: 'small', groupQueryAttention: true }),
    )
    expect(gqa).toMatch(/-mask-gqa-float32-/)
  })
})

describe('cli', () => {
  it('parses --group-query-attention', () => {
    expect(parseCliArgs(['--group-query-attention']).options).toEqual({ groupQueryAttention: true })
  })

  it('parses every flag', () => {
    const argv =
      '--out x --vocab small --layers 6 --kv-layers 2 --hidden 32 --heads 4 --kv-heads 2 --head-dim 8 --per-layer-dim 4 --ffn 64 --no-attention-mask --logits-to-keep --cache-dtype float16 --dtypes fp32,q4 --seed 9'
    const { out, options } = parseCliArgs(argv.split(' '))
    expect(out).toMatch(/x$/)
    expect(options).toEqual({
      vocab: 'small',
      layers: 6,
      kvLayers: 2,
      hidden: 32,
      heads: 4,
      kvHeads: 2,
      headDim: 8,
      perLayerDim: 4,
      ffn: 64,
      attentionMask: false,
      logitsToKeep: true,
      cacheDtype: 'float16',
      dtypes: ['fp32', 'q4'],
      seed: 9,
    })
  })

  it('exits 2 with a clear message on an unknown flag or a bad value', async () => {
    for (const args of [['--bogus'], ['--layers', 'x'], ['--kv-layers', '9']]) {
      const failed = await run(process.execPath, [CLI, ...args]).catch((e: unknown) => e)
      expect(failed).toMatchObject({ code: 2 })
      expect((failed as { stderr: string }).stderr).toMatch(/usage:/)
    }
  })

  it('prints the usage and exits 0 on --help', async () => {
    const { stdout } = await run(process.execPath, [CLI, '--help'])
    expect(stdout).toMatch(/^usage: .*--logits-to-keep/s)
  })

  it('writes a folder with --out', async () => {
    const out = join(root, 'cli-model')
    const { stdout } = await run(process.execPath, [
      CLI,
      '--out',
      out,
      '--vocab',
      'small',
      '--layers',
      '2',
    ])
    expect(stdout.trim()).toBe(out)
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as {
      text_config: { num_hidden_layers: number }
    }
    expect(config.text_config.num_hidden_layers).toBe(2)
  })
})
