/**
 * @module test/model/broken-folder
 * Model folders damaged the way interrupted copies leave them: a weight file missing, or cut short. The
 * node refuses to start with a `ModelFolderError` (printed as a reason, not a stack) that names the file
 * and says what to do, instead of onnxruntime's message alone from deep in the runner thread. A folder
 * without generation_config.json starts, with a warning: its end-of-turn token would be lost silently. So
 * does one whose vision encoder is not in the dtype named for every session: images would be refused.
 */
import { cp, rename, rm, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../../gpu-node/config.ts'
import { ensureContractModel } from '../../../gpu-node/contract-model/cache.ts'
import { startNode } from '../../../gpu-node/node-server.ts'
import { tempRoot } from './greedy.ts'

let root: string
let cleanup: () => Promise<void>
let model: string

beforeAll(async () => {
  model = await ensureContractModel({ vocab: 'small' })
  ;({ root, cleanup } = await tempRoot('broken-folder'))
})
afterAll(async () => cleanup?.())

/** A copy of the model with `damage` done to it. */
async function damaged(name: string, damage: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(root, name)
  await cp(model, dir, { recursive: true })
  await damage(dir)
  return dir
}

const start = (dir: string, env: Record<string, string> = {}) =>
  startNode(
    loadConfig({ GPU_NODE_PORT: '0', GPU_NODE_SECRET: 's', GEMMA_MODEL_DIR: dir, ...env }),
    () => {},
  )

describe('a damaged model folder', () => {
  it.each([
    [
      'the decoder weights missing',
      (dir: string) => rm(join(dir, 'onnx', 'decoder_model_merged.onnx_data')),
      'onnx/decoder_model_merged.onnx',
    ],
    [
      'the embedding weights cut short',
      (dir: string) => truncate(join(dir, 'onnx', 'embed_tokens.onnx_data'), 1024),
      'onnx/embed_tokens.onnx',
    ],
  ])('refuses to start, naming the file: %s', async (name, damage, file) => {
    const dir = await damaged(name.replaceAll(' ', '-'), damage)
    const error = await start(dir).then(
      () => new Error('the node started'),
      (caught: unknown) => caught as Error,
    )
    expect(error.name).toBe('ModelFolderError')
    expect(error.message).toContain(`onnxruntime cannot load ${file}`)
    expect(error.message).toMatch(
      /If the file( or its .*\.onnx_data)? is missing, incomplete or damaged/,
    )
    expect(error.message).toContain('npm run model:fetch')
  })

  it('starts without generation_config.json, and says what that costs', async () => {
    const dir = await damaged('no-generation-config', (d) => rm(join(d, 'generation_config.json')))
    const node = await start(dir)
    try {
      expect(node.stopTokens).toEqual(['<eos>']) // `<end_of_turn>` is named only in that file
      expect(node.warnings).toEqual([expect.stringContaining('no generation_config.json')])
    } finally {
      await node.close()
    }
    const complete = await start(model)
    try {
      expect(complete.stopTokens).toEqual(['<eos>', '<end_of_turn>'])
      expect(complete.warnings).toEqual([])
    } finally {
      await complete.close()
    }
  })

  it('starts without an encoder in the dtype named for every session, and says images are refused', async () => {
    const dir = await damaged('vision-in-fp16-only', (d) =>
      rename(join(d, 'onnx', 'vision_encoder.onnx'), join(d, 'onnx', 'vision_encoder_fp16.onnx')),
    )
    const named = await start(dir, { GEMMA_DTYPE: 'fp32' })
    try {
      expect(named.info.vision).toBe(false)
      expect(named.info.audio).toBe(true)
      expect(named.warnings).toEqual([
        expect.stringMatching(
          /onnx\/vision_encoder\.onnx \(dtype fp32\) is missing, so image parts are refused\. Variants present: vision_encoder_fp16\.onnx/,
        ),
      ])
    } finally {
      await named.close()
    }
    // Named for that session, as the warning's example does, the encoder is found.
    const perSession = /e\.g\. (\S+)\.$/.exec(named.warnings[0]!)![1]!
    expect(perSession).toBe('*=fp32,vision_encoder=fp16')
    const bySession = await start(dir, { GEMMA_DTYPE: perSession })
    try {
      expect(bySession.info.vision).toBe(true)
      expect(bySession.info.dtypes.vision_encoder).toBe('fp16')
      expect(bySession.warnings).toEqual([])
    } finally {
      await bySession.close()
    }
  })
})
