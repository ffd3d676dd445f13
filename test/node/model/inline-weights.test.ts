/**
 * A decoder whose weights sit inside its `.onnx` file, with no `.onnx_data` beside it (a third-party listing
 * of the real repo shows its q4 decoder so, 1.52 GB): the node rewrites it as it does a graph with external
 * data (the lm_head sliced, the sampling head fused), loading the rewritten graphs from bytes, and generates
 * what the same weights generate from external data files.
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Gemma3nRunner } from '../../../gpu-node/model/gemma3n-runner.ts'
import { SMALL_VOCAB_PROMPTS, greedyTokens, makeFolder, tempRoot } from './greedy.ts'

let cleanup: () => Promise<void>
let inline: string
let external: string

beforeAll(async () => {
  const temp = await tempRoot('gemma-inline')
  cleanup = temp.cleanup
  inline = await makeFolder(temp.root, 'inline', { vocab: 'small', inlineWeights: true })
  external = await makeFolder(temp.root, 'external', { vocab: 'small' })
})
afterAll(async () => cleanup?.())

describe('a decoder with its weights inline', () => {
  it('is rewritten and generates what the same weights do from external data', async () => {
    expect((await readdir(join(inline, 'onnx'))).filter((f) => f.includes('_data'))).toEqual([])
    const runners = await Promise.all(
      [inline, external].map((modelDir) =>
        Gemma3nRunner.load({ modelDir, runtime: 'node', device: 'cpu' }),
      ),
    )
    try {
      const [fromInline, fromExternal] = runners as [Gemma3nRunner, Gemma3nRunner]
      expect(fromInline.info).toMatchObject({
        promptLogits: 'graph_rewritten',
        samplingHead: 'fused',
        deferredSoftcap: true,
        batchedDecode: true,
      })
      for (const [seq, prompt] of SMALL_VOCAB_PROMPTS.slice(0, 3).entries()) {
        const want = await greedyTokens(fromExternal, seq, prompt, 12, [])
        expect(await greedyTokens(fromInline, seq, prompt, 12, [])).toEqual(want)
      }
    } finally {
      await Promise.all(runners.map((runner) => runner.close()))
    }
  })
})
