/**
 * @module test/model/greedy
 * Shared by the runner and oracle tests: fresh temporary contract model folders (transformers.js caches
 * files by path, so every variant gets a path of its own) and a greedy generation loop on
 * `Gemma3nRunner` that stops the way transformers.js `generate()` does (EOS from generation_config.json,
 * or the token budget).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ModelRunner, SamplingParams } from '../../../gpu-node/model/runner-types.ts'

/**
 * Prompt ids of different lengths, valid in the small vocabulary: the batching tests' sequences (distinct
 * enough that a mix-up between rows shows in their greedy tokens).
 */
export const SMALL_VOCAB_PROMPTS: readonly number[][] = [
  [2, 4, 300, 301, 302, 5, 4, 400, 10],
  [2, 4, 310, 5],
  [2, 4, 320, 321, 322, 323, 324, 325, 326, 327, 328, 329, 330, 331, 5, 4, 401],
  [2, 4, 340, 341, 5, 4, 402, 403],
  [2, 4, 350, 351, 352, 353, 354, 355, 356, 357, 358, 359, 360, 361, 362, 363, 364, 5, 4, 404],
]

/** Temperature 0: the runner's argmax, like `do_sample: false`. */
export const GREEDY: SamplingParams = {
  temperature: 0,
  topP: 1,
  topK: 0,
  presencePenalty: 0,
  frequencyPenalty: 0,
}

/** A fresh temporary parent folder; `cleanup` removes it and everything generated in it. */
export async function tempRoot(
  prefix: string,
): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), `${prefix}-`))
  return { root, cleanup: () => rm(root, { recursive: true, force: true }) }
}

/** Generates a contract model folder `root/name` with these options (shared with the generator's tests). */
export { makeModel as makeFolder } from '../contract-model/helpers.ts'

/** The stop ids of a folder: `eos_token_id` of generation_config.json (a number or a list). */
export async function eosIds(dir: string): Promise<number[]> {
  const config = JSON.parse(await readFile(join(dir, 'generation_config.json'), 'utf8')) as {
    eos_token_id?: number | number[]
  }
  const eos = config.eos_token_id ?? []
  return Array.isArray(eos) ? eos : [eos]
}

/**
 * Greedy generation with the runner: the whole prompt in one sampled step (prefill), then one step per
 * sampled token. Returns the new ids, including a final EOS as `generate()` does; releases the sequence.
 */
export async function greedyTokens(
  runner: ModelRunner,
  seqId: number,
  prompt: number[],
  maxNew: number,
  eos: readonly number[],
): Promise<number[]> {
  const out: number[] = []
  let tokens = prompt
  try {
    while (out.length < maxNew) {
      const phase = out.length === 0 ? 'prefill' : 'decode'
      const { results } = await runner.step([{ seqId, phase, tokens, sampling: GREEDY, seed: 0 }])
      const result = results[0]
      const token = result?.token
      if (token === null || token === undefined) throw new Error(`no token for sequence ${seqId}`)
      out.push(token)
      if (eos.includes(token)) break
      tokens = [token]
    }
  } finally {
    await runner.release([seqId])
  }
  return out
}
