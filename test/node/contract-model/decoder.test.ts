/**
 * @module test/contract-model/decoder
 * The decoder graph behaves like a real cached causal LM: cached decode equals a full run, the cache
 * and absolute positions matter, padded batch rows are independent, and the fp16-cache, shared-KV and
 * GroupQueryAttention variants run (the last computing what the plain graph with its weights computes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import ort from 'onnxruntime-node'
import type { Cache, TextSessions } from './helpers.ts'
import {
  argmax,
  emptyCache,
  loadText,
  makeModel,
  maxDiff,
  range,
  row,
  step,
  tempRoot,
  tensorMeta,
} from './helpers.ts'

const PROMPT = [2, 300, 301, 302, 303, 400, 401] // 7 tokens of the small vocabulary
const TOL = 1e-4

let cleanup: () => Promise<void>
let base: TextSessions
let half: TextSessions
let shared: TextSessions

beforeAll(async () => {
  const tmp = await tempRoot()
  cleanup = tmp.cleanup
  const baseDir = await makeModel(tmp.root, 'base', { vocab: 'small', dtypes: ['fp32', 'fp16'] })
  const sharedDir = await makeModel(tmp.root, 'shared', {
    vocab: 'small',
    layers: 4,
    kvLayers: 2,
    attentionMask: false,
    cacheDtype: 'float16',
  })
  base = await loadText(baseDir)
  half = await loadText(baseDir, '_fp16')
  shared = await loadText(sharedDir)
})

afterAll(async () => {
  await cleanup()
})

/** Prefill 5 tokens, then 2 cached decode steps; returns the 3 last-position logits rows. */
async function prefillThenDecode(s: TextSessions): Promise<Float32Array[]> {
  const first = await step(s, [PROMPT.slice(0, 5)], [range(0, 5)], emptyCache(s.decoder, 1))
  const a = await step(s, [[PROMPT[5] ?? 0]], [[5]], first.cache)
  const b = await step(s, [[PROMPT[6] ?? 0]], [[6]], a.cache)
  return [row(first, 0, 4, 5), row(a, 0, 0, 1), row(b, 0, 0, 1)]
}

async function fullRun(s: TextSessions, from = 0): Promise<Float32Array[]> {
  const full = await step(s, [PROMPT], [range(from, 7)], emptyCache(s.decoder, 1))
  return [row(full, 0, 4, 7), row(full, 0, 5, 7), row(full, 0, 6, 7)]
}

describe('decoder session I/O', () => {
  it('declares the contract names, dtypes and dims', () => {
    const inputs = Object.fromEntries(
      tensorMeta(base.decoder.inputMetadata).map((m) => [m.name, m]),
    )
    expect(base.decoder.inputNames.slice(0, 4)).toEqual([
      'inputs_embeds',
      'per_layer_inputs',
      'position_ids',
      'attention_mask',
    ])
    expect(inputs.inputs_embeds).toMatchObject({
      type: 'float32',
      shape: ['batch_size', 'sequence_length', 64],
    })
    expect(inputs.per_layer_inputs).toMatchObject({
      shape: ['batch_size', 'sequence_length', 4, 16],
    })
    expect(inputs.position_ids).toMatchObject({
      type: 'int64',
      shape: ['batch_size', 'sequence_length'],
    })
    expect(inputs.attention_mask).toMatchObject({
      type: 'int64',
      shape: ['batch_size', 'total_sequence_length'],
    })
    expect(inputs['past_key_values.3.value']).toMatchObject({
      type: 'float32',
      shape: ['batch_size', 1, 'past_sequence_length', 32],
    })
    const outputs = tensorMeta(base.decoder.outputMetadata)
    expect(outputs.map((m) => m.name)).toEqual([
      'logits',
      ...range(0, 4).flatMap((i) => [`present.${i}.key`, `present.${i}.value`]),
    ])
    expect(outputs[0]).toMatchObject({
      type: 'float32',
      shape: ['batch_size', 'sequence_length', 1024],
    })
    expect(outputs[1]).toMatchObject({ shape: ['batch_size', 1, 'total_sequence_length', 32] })
  })

  it('declares embed_tokens I/O', () => {
    expect(tensorMeta(base.embed.inputMetadata)[0]).toMatchObject({
      name: 'input_ids',
      type: 'int64',
      shape: ['batch_size', 'sequence_length'],
    })
    expect(tensorMeta(base.embed.outputMetadata).map((m) => [m.name, m.type, m.shape])).toEqual([
      ['inputs_embeds', 'float32', ['batch_size', 'sequence_length', 64]],
      ['per_layer_inputs', 'float32', ['batch_size', 'sequence_length', 4, 16]],
    ])
  })

  it('uses float16 cache for the fp16 variant and omits attention_mask when asked', () => {
    const past = tensorMeta(half.decoder.inputMetadata).find(
      (m) => m.name === 'past_key_values.0.key',
    )
    expect(past?.type).toBe('float16')
    expect(tensorMeta(half.decoder.outputMetadata)[1]?.type).toBe('float16')
    expect(shared.decoder.inputNames).not.toContain('attention_mask')
    expect(shared.decoder.inputNames.filter((n) => n.startsWith('past_key_values.'))).toEqual([
      'past_key_values.0.key',
      'past_key_values.0.value',
      'past_key_values.1.key',
      'past_key_values.1.value',
    ])
  })
})

describe('decoder behaviour', () => {
  it('prefill + cached decode equals one full run', async () => {
    const cached = await prefillThenDecode(base)
    const full = await fullRun(base)
    cached.forEach((r, i) => expect(maxDiff(r, full[i] ?? [])).toBeLessThan(TOL))
  })

  it('returns present tensors of past + new length', async () => {
    const first = await step(base, [PROMPT.slice(0, 5)], [range(0, 5)], emptyCache(base.decoder, 1))
    const next = await step(base, [[PROMPT[5] ?? 0]], [[5]], first.cache)
    expect(first.cache['past_key_values.0.key']?.dims).toEqual([1, 1, 5, 32])
    expect(next.cache['past_key_values.3.value']?.dims).toEqual([1, 1, 6, 32])
  })

  it('depends on the cache: decoding without it changes the output', async () => {
    const full = await fullRun(base)
    const alone = await step(base, [[PROMPT[5] ?? 0]], [[5]], emptyCache(base.decoder, 1))
    expect(maxDiff(row(alone, 0, 0, 1), full[1] ?? [])).toBeGreaterThan(0.1)
  })

  it('depends on absolute positions: shifting by +1 changes the output', async () => {
    const zero = await fullRun(base, 0)
    const one = await fullRun(base, 1)
    expect(maxDiff(zero[2] ?? [], one[2] ?? [])).toBeGreaterThan(0.1)
  })

  it('keeps left-padded batch rows independent with attention_mask', async () => {
    const short = [2, 310, 311, 312]
    const padded = [[...PROMPT], [0, 0, 0, ...short]]
    const mask = [Array<number>(7).fill(1), [0, 0, 0, 1, 1, 1, 1]]
    // transformers.js positions: cumsum(mask) - 1, masked slots set to 1.
    const positions = [range(0, 7), [1, 1, 1, 0, 1, 2, 3]]
    const batch = await step(base, padded, positions, emptyCache(base.decoder, 2), mask)
    expect(batch.logits.some(Number.isNaN)).toBe(false)
    const aloneLong = await step(base, [PROMPT], [range(0, 7)], emptyCache(base.decoder, 1))
    const aloneShort = await step(base, [short], [range(0, 4)], emptyCache(base.decoder, 1))
    expect(maxDiff(row(batch, 0, 6, 7), row(aloneLong, 0, 6, 7))).toBeLessThan(TOL)
    expect(maxDiff(row(batch, 1, 6, 7), row(aloneShort, 0, 3, 4))).toBeLessThan(TOL)

    const mask2 = mask.map((m) => [...m, 1])
    const next = await step(base, [[500], [500]], [[7], [4]], batch.cache, mask2)
    const shortNext = await step(base, [[500]], [[4]], aloneShort.cache)
    expect(maxDiff(row(next, 1, 0, 1), row(shortNext, 0, 0, 1))).toBeLessThan(TOL)
  })

  it('masks keys whose attention_mask is 0', async () => {
    const ones = await step(base, [PROMPT], [range(0, 7)], emptyCache(base.decoder, 1))
    const holed = await step(base, [PROMPT], [range(0, 7)], emptyCache(base.decoder, 1), [
      [1, 1, 0, 1, 1, 1, 1],
    ])
    expect(maxDiff(row(ones, 0, 6, 7), row(holed, 0, 6, 7))).toBeGreaterThan(0.01)
  })

  it('greedy continuation is not degenerate', async () => {
    let result = await step(base, [PROMPT], [range(0, 7)], emptyCache(base.decoder, 1))
    const ids: number[] = []
    for (let i = 0; i < 32; i++) {
      const id = argmax(row(result, 0, (i === 0 ? 7 : 1) - 1, i === 0 ? 7 : 1))
      ids.push(id)
      result = await step(base, [[id]], [[7 + i]], result.cache)
    }
    expect(new Set(ids).size).toBeGreaterThanOrEqual(10)
  })

  it('fp16-cache variant runs and matches fp32 closely', async () => {
    const cached = await prefillThenDecode(half)
    const full = await fullRun(base)
    expect(cached[2]?.length).toBe(1024)
    expect(maxDiff(cached[2] ?? [], full[2] ?? [])).toBeLessThan(0.05)
    const first = await step(half, [[2, 300]], [[0, 1]], emptyCache(half.decoder, 1))
    expect(first.cache['past_key_values.0.key']?.type).toBe('float16')
    expect(first.cache['past_key_values.0.key']?.data).toBeInstanceOf(Uint16Array)
  })

  it('shared-KV variant (2 cache pairs for 4 layers) runs with a real cache', async () => {
    const cached = await prefillThenDecode(shared)
    const full = await fullRun(shared)
    cached.forEach((r, i) => expect(maxDiff(r, full[i] ?? [])).toBeLessThan(0.05))
    const first = await step(shared, [[2, 300]], [[0, 1]], emptyCache(shared.decoder, 1))
    expect(Object.keys(first.cache)).toHaveLength(4)
    expect(first.cache['past_key_values.1.value']).toBeInstanceOf(ort.Tensor)
  })
})

describe('a decoder that declares num_logits_to_keep', () => {
  let keep: TextSessions
  let done: () => Promise<void>
  beforeAll(async () => {
    const tmp = await tempRoot()
    done = tmp.cleanup
    keep = await loadText(await makeModel(tmp.root, 'keep', { vocab: 'small', logitsToKeep: true }))
  })
  afterAll(async () => done?.())

  it('returns the last N positions, and every position for 0', async () => {
    const run = (n: number) =>
      step(keep, [PROMPT], [range(0, 7)], emptyCache(keep.decoder, 1), undefined, {
        num_logits_to_keep: new ort.Tensor('int64', BigInt64Array.of(BigInt(n)), []),
      })
    const all = await run(0)
    const two = await run(2)
    expect(all.logits.length).toBe(7 * all.vocab)
    expect(two.logits.length).toBe(2 * two.vocab)
    expect(maxDiff(row(two, 0, 1, 2), row(all, 0, 6, 7))).toBeLessThan(TOL)
    expect(maxDiff(row(two, 0, 0, 2), row(all, 0, 5, 7))).toBeLessThan(TOL)
  })
})

describe('a decoder whose attention is GroupQueryAttention', () => {
  let gqa: TextSessions
  let done: () => Promise<void>
  beforeAll(async () => {
    const tmp = await tempRoot()
    done = tmp.cleanup
    const options = { vocab: 'small' as const, groupQueryAttention: true }
    gqa = await loadText(await makeModel(tmp.root, 'gqa', options))
  })
  afterAll(async () => done?.())

  it('computes what the plain graph with the same weights computes, cached or not', async () => {
    const cached = await prefillThenDecode(gqa)
    const plain = await fullRun(base)
    cached.forEach((r, i) => expect(maxDiff(r, plain[i] ?? [])).toBeLessThan(TOL))
  })

  it('keeps right-padded batch rows independent, writing each row at its own length', async () => {
    const short = [2, 310, 311, 312]
    const aloneLong = await step(gqa, [PROMPT], [range(0, 7)], emptyCache(gqa.decoder, 1))
    const aloneShort = await step(gqa, [short], [range(0, 4)], emptyCache(gqa.decoder, 1))
    // Each row prefilled alone, then stacked into one 7-column batch as the node does, the short row's
    // 4 columns first (right padding) or last (left padding).
    const stacked = (side: 'left' | 'right'): Cache =>
      Object.fromEntries(
        Object.keys(aloneLong.cache).map((name) => {
          const own = aloneShort.cache[name]!
          const [, heads = 0, , dim = 0] = own.dims
          const data = new Float32Array(2 * heads * 7 * dim)
          data.set(aloneLong.cache[name]!.data as Float32Array)
          for (let h = 0; h < heads; h++) {
            const rows = (own.data as Float32Array).subarray(h * 4 * dim, (h + 1) * 4 * dim)
            data.set(rows, ((heads + h) * 7 + (side === 'left' ? 3 : 0)) * dim)
          }
          return [name, new ort.Tensor('float32', data, [2, heads, 7, dim])]
        }),
      )
    const longNext = await step(gqa, [[500]], [[7]], aloneLong.cache)
    const shortNext = await step(gqa, [[500]], [[4]], aloneShort.cache)
    // Only the count of ones in a row of the mask is read.
    const right = [Array<number>(8).fill(1), [1, 1, 1, 1, 1, 0, 0, 0]]
    const next = await step(gqa, [[500], [500]], [[7], [4]], stacked('right'), right)
    expect(maxDiff(row(next, 0, 0, 1), row(longNext, 0, 0, 1))).toBeLessThan(TOL)
    expect(maxDiff(row(next, 1, 0, 1), row(shortNext, 0, 0, 1))).toBeLessThan(TOL)
    expect(next.cache['past_key_values.0.key']?.dims).toEqual([2, 1, 8, 32])
    // Padded on the left, as the plain graph wants it, the short row attends to padding instead.
    const left = [Array<number>(8).fill(1), [0, 0, 0, 1, 1, 1, 1, 1]]
    const wrong = await step(gqa, [[500], [500]], [[7], [4]], stacked('left'), left)
    expect(maxDiff(row(wrong, 1, 0, 1), row(shortNext, 0, 0, 1))).toBeGreaterThan(0.1)
  })
})
