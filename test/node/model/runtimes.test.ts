/**
 * @module test/model/runtimes
 * The runner on both ONNX Runtime packages: onnxruntime-node (CPU execution provider) and
 * onnxruntime-web (wasm) give the same greedy tokens on one small folder; a folder whose KV cache is
 * float16 (`cacheDtype: 'float16'`) runs on onnxruntime-node CPU, reports its half-size cache and
 * generates like the float32-cache folder with the same weights.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Gemma3nRunner } from '../../../gpu-node/model/gemma3n-runner.ts'
import { ChatTokenizer } from '../../../gpu-node/text/chat-tokenizer.ts'
import type { ChatMessage } from '../../../gpu-node/text/chat-tokenizer.ts'
import { greedyTokens, makeFolder, tempRoot } from './greedy.ts'

const NEW_TOKENS = 24
const MIN_DISTINCT = 8
const SMALL = { vocab: 'small', layers: 4, kvLayers: 2, seed: 7 } as const
const CONVERSATIONS: ChatMessage[][] = [
  [{ role: 'user', content: 'Write a haiku about the sea.' }],
  [
    { role: 'system', content: 'Answer briefly.' },
    { role: 'user', content: 'Why is the sky blue? 天空 🌤' },
  ],
]

let cleanup: () => Promise<void>
let prompts: number[][]
let node: Gemma3nRunner
let web: Gemma3nRunner
let half: Gemma3nRunner
let seqId = 0

beforeAll(async () => {
  const temp = await tempRoot('runtimes')
  cleanup = temp.cleanup
  const dir = await makeFolder(temp.root, 'fp32-cache', SMALL)
  const halfDir = await makeFolder(temp.root, 'fp16-cache', { ...SMALL, cacheDtype: 'float16' })
  const tokenizer = await ChatTokenizer.load(dir)
  prompts = CONVERSATIONS.map((c) => tokenizer.encodeChat(c, { addGenerationPrompt: true }))
  node = await Gemma3nRunner.load({ modelDir: dir, runtime: 'node', device: 'cpu' })
  web = await Gemma3nRunner.load({ modelDir: dir, runtime: 'web', device: 'wasm' })
  half = await Gemma3nRunner.load({ modelDir: halfDir, runtime: 'node', device: 'cpu' })
})

afterAll(async () => {
  await node?.close()
  await web?.close()
  await half?.close()
  await cleanup?.()
})

/** Greedy tokens of every prompt, EOS ignored so each list has NEW_TOKENS ids. */
async function generateAll(runner: Gemma3nRunner): Promise<number[][]> {
  const all: number[][] = []
  for (const prompt of prompts)
    all.push(await greedyTokens(runner, ++seqId, prompt, NEW_TOKENS, []))
  return all
}

describe('onnxruntime-node and onnxruntime-web', () => {
  it('report which runtime and device they run on', () => {
    expect([node.info.runtime, node.info.device]).toEqual(['node', 'cpu'])
    expect([web.info.runtime, web.info.device]).toEqual(['web', 'wasm'])
  })

  it('generate the same greedy tokens', async () => {
    const fromNode = await generateAll(node)
    const fromWeb = await generateAll(web)
    expect(fromWeb).toEqual(fromNode)
    for (const tokens of fromNode) {
      expect(tokens).toHaveLength(NEW_TOKENS)
      expect(new Set(tokens).size).toBeGreaterThanOrEqual(MIN_DISTINCT)
    }
    // Different prompts must lead somewhere different, or the prompt is not reaching the model.
    expect(fromNode[0]).not.toEqual(fromNode[1])
  })
})

describe('float16 KV cache on onnxruntime-node CPU', () => {
  it('reports half the cache bytes per token of the float32 folder', () => {
    expect(half.info.kvLayers).toBe(node.info.kvLayers)
    expect(half.info.kvBytesPerToken * 2).toBe(node.info.kvBytesPerToken)
  })

  it('generates the same greedy tokens as the float32-cache folder with the same weights', async () => {
    const fromHalf = await generateAll(half)
    expect(fromHalf).toEqual(await generateAll(node))
  })
})
