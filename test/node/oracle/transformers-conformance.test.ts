/**
 * @module test/oracle/transformers-conformance
 * Our text path against transformers.js 4.3.1 on the same generated folders: prompt ids from
 * ChatTokenizer.encodeChat equal the processor's template + tokenizer ids, and the runner's greedy loop
 * (onnxruntime-node, CPU) produces the same 24 tokens as `generate({ do_sample: false })`. Folder
 * variants: small vocabulary with attention_mask; small vocabulary with shared KV (2 cache pairs for 4
 * layers) and no attention_mask; a decoder that declares num_logits_to_keep; the 262,400-token vocabulary. A control on a folder with other weights
 * shows that the comparison can fail.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ContractModelOptions } from '../../../gpu-node/contract-model/options.ts'
import { Gemma3nRunner } from '../../../gpu-node/model/gemma3n-runner.ts'
import { ChatTokenizer } from '../../../gpu-node/text/chat-tokenizer.ts'
import { eosIds, greedyTokens, makeFolder, tempRoot } from '../model/greedy.ts'
import { loadOracle } from './oracle.ts'
import type { Oracle } from './oracle.ts'
import { PROMPTS } from './prompts.ts'
import type { PromptName } from './prompts.ts'

const NEW_TOKENS = 24
/** A random-weight model that repeats one or two ids has stopped testing anything. */
const MIN_DISTINCT = 8
const ALL_PROMPTS = Object.keys(PROMPTS) as PromptName[]

interface Variant {
  name: string
  options: Partial<ContractModelOptions>
  prompts: PromptName[]
}

const VARIANTS: Variant[] = [
  {
    name: 'small vocabulary, 4 layers, 4 cache pairs, attention_mask',
    options: { vocab: 'small', layers: 4, kvLayers: 4, attentionMask: true },
    prompts: ALL_PROMPTS,
  },
  {
    name: 'small vocabulary, 4 layers, 2 shared cache pairs, no attention_mask',
    options: { vocab: 'small', layers: 4, kvLayers: 2, attentionMask: false },
    prompts: ALL_PROMPTS,
  },
  {
    name: 'small vocabulary, attention_mask and num_logits_to_keep',
    options: { vocab: 'small', layers: 4, kvLayers: 4, attentionMask: true, logitsToKeep: true },
    prompts: ['single', 'long'],
  },
  {
    // Loading costs seconds and ~1 GB: fewer prompts.
    name: '262,400-token vocabulary (default options)',
    options: {},
    prompts: ['single', 'long', 'unicode'],
  },
]

let root: string
let cleanup: () => Promise<void>
let seqId = 0

beforeAll(async () => {
  ;({ root, cleanup } = await tempRoot('oracle'))
})

afterAll(async () => {
  await cleanup()
})

for (const [index, variant] of VARIANTS.entries()) {
  describe(variant.name, () => {
    let oracle: Oracle
    let tokenizer: ChatTokenizer
    let runner: Gemma3nRunner
    let eos: number[]

    beforeAll(async () => {
      const dir = await makeFolder(root, `variant-${index}`, variant.options)
      oracle = await loadOracle(dir)
      tokenizer = await ChatTokenizer.load(dir)
      runner = await Gemma3nRunner.load({ modelDir: dir, runtime: 'node', device: 'cpu' })
      eos = await eosIds(dir)
    })

    afterAll(async () => {
      await runner?.close()
      await oracle?.dispose()
    })

    it.each(variant.prompts)('prompt "%s": same ids and same greedy tokens', async (name) => {
      const ours = tokenizer.encodeChat(PROMPTS[name], { addGenerationPrompt: true })
      expect(ours).toEqual(oracle.promptIds(PROMPTS[name]))
      if (name === 'long') expect(ours.length).toBeGreaterThanOrEqual(150)

      // EOS off on both sides: every comparison covers all 24 positions.
      const expected = await oracle.greedy(ours, NEW_TOKENS, { stopAtEos: false })
      const actual = await greedyTokens(runner, ++seqId, ours, NEW_TOKENS, [])
      expect(actual).toEqual(expected)
      expect(actual).toHaveLength(NEW_TOKENS)
      expect(new Set(actual).size).toBeGreaterThanOrEqual(MIN_DISTINCT)
    })

    if (index === 0) {
      // With these weights the unicode prompt samples an EOS id within 24 tokens.
      it('stops at the same EOS as generate()', async () => {
        const prompt = tokenizer.encodeChat(PROMPTS.unicode, { addGenerationPrompt: true })
        const expected = await oracle.greedy(prompt, NEW_TOKENS)
        const actual = await greedyTokens(runner, ++seqId, prompt, NEW_TOKENS, eos)
        expect(actual).toEqual(expected)
        expect(actual.length).toBeLessThan(NEW_TOKENS)
        expect(eos).toContain(actual.at(-1))
      })
    }
  })
}

describe('negative control', () => {
  it('transformers.js on a folder with other weights disagrees with our runner', async () => {
    const options = { vocab: 'small', layers: 4, kvLayers: 4 } as const
    const ours = await makeFolder(root, 'control-seed-1', { ...options, seed: 1 })
    const other = await makeFolder(root, 'control-seed-2', { ...options, seed: 2 })
    const tokenizer = await ChatTokenizer.load(ours)
    const prompt = tokenizer.encodeChat(PROMPTS.system, { addGenerationPrompt: true })
    const runner = await Gemma3nRunner.load({ modelDir: ours, runtime: 'node', device: 'cpu' })
    const oracle = await loadOracle(other)
    try {
      const actual = await greedyTokens(runner, ++seqId, prompt, NEW_TOKENS, await eosIds(ours))
      const expected = await oracle.greedy(prompt, NEW_TOKENS)
      expect(new Set(expected).size).toBeGreaterThanOrEqual(MIN_DISTINCT)
      expect(actual).not.toEqual(expected)
    } finally {
      await runner.close()
      await oracle.dispose()
    }
  })
})
