/**
 * Continuous batching must not change what any sequence generates: each sequence's greedy tokens in a
 * batched run equal its tokens when it runs alone, while other sequences join and leave mid-run. Checked
 * for a decoder that declares `attention_mask` (one padded batch per step), one that also declares
 * `num_logits_to_keep`, one whose attention is onnxruntime's GroupQueryAttention (the batch padded on the
 * right), one without `attention_mask` (sequences decoded one by one), and the fp16 files (float16 caches),
 * on real ONNX sessions. Also: a prompt fed in chunks generates what it generates in
 * one, and a decode item without a token feeds the one the runner sampled last. On the CPU, and on WebGPU where onnxruntime-node opens an adapter (Mesa's lavapipe on CI), where the
 * batch's cache stays in device buffers and joins and removals run on the device; there each sequence must
 * also get the CPU's tokens, and so must the default model's, whose 262,400-id vocabulary takes the
 * two-stage sampling head.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureContractModel } from '../../../gpu-node/contract-model/cache.ts'
import { Gemma3nRunner } from '../../../gpu-node/model/gemma3n-runner.ts'
import type { DeviceName, RuntimeName } from '../../../gpu-node/model/ort-runtime.ts'
import type { SamplingParams, StepItem } from '../../../gpu-node/model/runner-types.ts'
import { devicesToTest } from '../../support/webgpu.ts'
import { GREEDY, SMALL_VOCAB_PROMPTS, greedyTokens, makeFolder, tempRoot } from './greedy.ts'

const DEVICES = await devicesToTest('Batched decoding')
const CASES: { variant: string; runtime: RuntimeName; device: DeviceName }[] = [
  ...['masked', 'keep', 'unmasked', 'half', 'gqa'].flatMap((variant) =>
    DEVICES.map((device) => ({ variant, runtime: 'node' as const, device })),
  ),
  // onnxruntime-web's own WebGPU build, on Dawn from the `webgpu` package.
  ...(DEVICES.includes('webgpu')
    ? [{ variant: 'masked', runtime: 'web' as const, device: 'webgpu' as const }]
    : []),
]

const PROMPTS = SMALL_VOCAB_PROMPTS
/** When each sequence joins (engine step) and how many tokens it generates before leaving. */
const SCHEDULE = [
  { joinAt: 0, tokens: 10 }, // leaves mid-run
  { joinAt: 0, tokens: 24 },
  { joinAt: 4, tokens: 20 }, // joins a running batch, in the same step as the last one
  { joinAt: 12, tokens: 8 }, // joins after one left
  { joinAt: 4, tokens: 12 }, // wider than the running batch
]

let cleanup: () => Promise<void>
const folders: Record<string, string> = {}

beforeAll(async () => {
  const temp = await tempRoot('gemma-batching')
  cleanup = temp.cleanup
  folders.masked = await makeFolder(temp.root, 'masked', { vocab: 'small', attentionMask: true })
  folders.keep = await makeFolder(temp.root, 'keep', {
    vocab: 'small',
    attentionMask: true,
    logitsToKeep: true,
  })
  folders.unmasked = await makeFolder(temp.root, 'unmasked', {
    vocab: 'small',
    attentionMask: false,
    kvLayers: 2,
  })
  // Attention through onnxruntime's GroupQueryAttention, as the onnx-community exports of Gemma 3 and 4
  // have it: it writes each row's keys at the row's own length, so the batch must pad on the right.
  folders.gqa = await makeFolder(temp.root, 'gqa', {
    vocab: 'small',
    attentionMask: true,
    groupQueryAttention: true,
  })
  // The fp16 files, as the fp16 and q4f16 exports have them: float16 caches, joined and trimmed as such.
  folders.half = await makeFolder(temp.root, 'half', {
    vocab: 'small',
    attentionMask: true,
    dtypes: ['fp16'],
  })
})

/** Where each variant's batch pads its shorter rows, as the load finds out (kv-padding-probe.ts). */
const PADDING: Record<string, 'left' | 'right' | null> = {
  masked: 'left',
  keep: 'left',
  half: 'left',
  gqa: 'right',
  unmasked: null,
}

/** How each variant's folder is loaded. */
const loadOptions = (variant: string, device: DeviceName, runtime: RuntimeName = 'node') => ({
  modelDir: folders[variant]!,
  runtime,
  device,
  ...(variant === 'half' ? { dtype: 'fp16' } : {}),
})
afterAll(async () => cleanup?.())

/**
 * Sampling that reads more than the top candidates, one kind per sequence, so that one batch mixes them:
 * greedy, top-k within the candidates, top-k off (the whole row), penalties (ids outside the candidates),
 * and a top-k wider than the candidates.
 */
const MIXED_SAMPLING: SamplingParams[] = [
  GREEDY,
  { temperature: 0.9, topP: 0.9, topK: 40, presencePenalty: 0, frequencyPenalty: 0 },
  { temperature: 0.7, topP: 1, topK: 0, presencePenalty: 0, frequencyPenalty: 0 },
  { temperature: 0, topP: 1, topK: 0, presencePenalty: -2, frequencyPenalty: -1 },
  { temperature: 1.2, topP: 0.95, topK: 2000, presencePenalty: 0, frequencyPenalty: 0 },
]

/** Drives the runner like the engine: every running sequence decodes each step; joiners prefill. */
async function batchedRun(
  runner: Gemma3nRunner,
  samplingOf: (seq: number) => SamplingParams = () => GREEDY,
): Promise<{ tokens: number[][]; widest: number }> {
  const out: number[][] = PROMPTS.map(() => [])
  const active = new Set<number>()
  let widest = 0
  for (
    let step = 0;
    active.size > 0 || step <= Math.max(...SCHEDULE.map((s) => s.joinAt));
    step++
  ) {
    const items: StepItem[] = []
    for (const seq of active) {
      items.push({
        seqId: seq,
        phase: 'decode',
        tokens: [out[seq]!.at(-1)!],
        sampling: samplingOf(seq),
        seed: seq,
      })
    }
    SCHEDULE.forEach(({ joinAt }, seq) => {
      if (joinAt === step)
        items.push({
          seqId: seq,
          phase: 'prefill',
          tokens: PROMPTS[seq]!,
          sampling: samplingOf(seq),
          seed: seq,
        })
    })
    widest = Math.max(widest, items.filter((i) => i.phase === 'decode').length)
    const { results } = await runner.step(items)
    const leaving: number[] = []
    for (const { seqId, token } of results) {
      out[seqId]!.push(token!)
      active.add(seqId)
      if (out[seqId]!.length >= SCHEDULE[seqId]!.tokens) leaving.push(seqId)
    }
    for (const seq of leaving) active.delete(seq)
    await runner.release(leaving)
  }
  return { tokens: out, widest }
}

describe.each(CASES)('batched decoding ($variant decoder, $runtime $device)', (testCase) => {
  const { variant, runtime, device } = testCase
  let runner: Gemma3nRunner
  beforeAll(async () => {
    runner = await Gemma3nRunner.load(loadOptions(variant, device, runtime))
  })
  afterAll(async () => runner?.close())

  it('gives every sequence the tokens it gets alone, with joins and leaves mid-run', async () => {
    expect(runner.info).toMatchObject({
      runtime,
      device,
      batchedDecode: variant !== 'unmasked',
      kvPadding: PADDING[variant],
      samplingHead: 'fused',
      // Every variant's logits are float32 (the float16 files have float16 caches): the softcap moves
      // onto the candidates (deferred-softcap.ts).
      deferredSoftcap: true,
    })
    expect(runner.info.dtypes.decoder_model_merged).toBe(variant === 'half' ? 'fp16' : 'fp32')
    const alone: number[][] = []
    for (const [seq, prompt] of PROMPTS.entries()) {
      alone.push(await greedyTokens(runner, 100 + seq, prompt, SCHEDULE[seq]!.tokens, []))
    }
    const { tokens, widest } = await batchedRun(runner)
    expect(widest).toBe(4)
    expect(tokens).toEqual(alone)
    // Not degenerate: the comparison would catch a mix-up between sequences.
    expect(new Set(alone.map((t) => t.join(','))).size).toBe(PROMPTS.length)
  })

  // onnxruntime-web's WebGPU backend does not survive a second runner in the same process.
  it.runIf(runtime === 'node')(
    'samples as the sampling head in a session of its own does, with the head fused into the decoder',
    async () => {
      const separate = await Gemma3nRunner.load({
        ...loadOptions(variant, device, runtime),
        fuseSamplingHead: false,
      })
      try {
        expect(separate.info.samplingHead).toBe('session')
        const want = await batchedRun(separate, (seq) => MIXED_SAMPLING[seq]!)
        const got = await batchedRun(runner, (seq) => MIXED_SAMPLING[seq]!)
        expect(got.tokens).toEqual(want.tokens)
        // Not degenerate: the penalised greedy sequence differs from its plain greedy run.
        const plain = await batchedRun(runner)
        expect(got.tokens[3]).not.toEqual(plain.tokens[3])
      } finally {
        await separate.close()
      }
    },
  )

  it.runIf(device !== 'cpu')(
    'gives each sequence the tokens the CPU gives it, greedy and sampled',
    async () => {
      const cpu = await Gemma3nRunner.load(loadOptions(variant, 'cpu'))
      try {
        for (const [seq, prompt] of PROMPTS.entries()) {
          const want = await greedyTokens(cpu, seq, prompt, 16, [])
          expect(await greedyTokens(runner, 300 + seq, prompt, 16, [])).toEqual(want)
        }
        // Sampling too, where rows read their whole logits row: copied from the device for them.
        const mixed = (seq: number) => MIXED_SAMPLING[seq]!
        expect((await batchedRun(runner, mixed)).tokens).toEqual(
          (await batchedRun(cpu, mixed)).tokens,
        )
      } finally {
        await cpu.close()
      }
    },
  )

  it('gives a prompt fed in chunks (the last one a single token) the tokens it gets in one', async () => {
    const prompt = PROMPTS[2]!
    const whole = await greedyTokens(runner, 200, prompt, 12, [])
    const chunks = [prompt.slice(0, 8), prompt.slice(8, 16), prompt.slice(16)]
    let last: number | null = null
    for (const [index, tokens] of chunks.entries()) {
      const final = index === chunks.length - 1
      const { results } = await runner.step([
        { seqId: 201, phase: 'prefill', tokens, sampling: final ? GREEDY : null, seed: 0 },
      ])
      last = results[0]!.token
      expect(last === null).toBe(!final)
    }
    const chunked = [last!]
    while (chunked.length < whole.length) {
      const { results } = await runner.step([
        { seqId: 201, phase: 'decode', tokens: [chunked.at(-1)!], sampling: GREEDY, seed: 0 },
      ])
      chunked.push(results[0]!.token!)
    }
    await runner.release([201])
    expect(chunked).toEqual(whole)
  })

  it('feeds the token it sampled last to a decode item that brings none, and skips one it has none for', async () => {
    const prompt = PROMPTS[0]!
    const whole = await greedyTokens(runner, 210, prompt, 8, [])
    let { results } = await runner.step([
      { seqId: 211, phase: 'prefill', tokens: prompt, sampling: GREEDY, seed: 0 },
    ])
    const fed = [results[0]!.token!]
    while (fed.length < whole.length) {
      // The engine sends a step before the last one's tokens reach it. Sequence 212 has sampled nothing
      // (as if the step with its prompt had failed): it gets no token, and 211 decodes all the same.
      ;({ results } = await runner.step([
        { seqId: 211, phase: 'decode', tokens: [], sampling: GREEDY, seed: 0 },
        { seqId: 212, phase: 'decode', tokens: [], sampling: GREEDY, seed: 0 },
      ]))
      expect(results[1]).toEqual({ seqId: 212, token: null })
      fed.push(results[0]!.token!)
    }
    await runner.release([211, 212])
    expect(fed).toEqual(whole)
  })

  it('holds no cache after every sequence has left', async () => {
    const { kvTokens } = await runner.step([])
    expect(kvTokens).toBe(0)
  })
})

// The default model's 262,400-id vocabulary takes the two-stage head (sampling-head.ts), fused into the
// decoder; the small vocabulary above takes the plain one.
describe.runIf(DEVICES.includes('webgpu'))('the Gemma vocabulary on WebGPU', () => {
  it('gives each sequence the tokens the CPU gives it, greedy and sampled', async () => {
    const modelDir = await ensureContractModel()
    const gpu = await Gemma3nRunner.load({ modelDir, runtime: 'node', device: 'webgpu' })
    const cpu = await Gemma3nRunner.load({ modelDir, runtime: 'node', device: 'cpu' })
    try {
      expect(gpu.info.samplingHead).toBe('fused')
      for (const [seq, prompt] of PROMPTS.slice(0, 2).entries()) {
        const want = await greedyTokens(cpu, seq, prompt, 8, [])
        expect(await greedyTokens(gpu, seq, prompt, 8, [])).toEqual(want)
      }
      // Not the top-k 2000 row: with 262,400 random-weight logits, its sort of 2,000 near-equal values
      // already differs by float rounding between the devices, and so does its draw.
      const mixed = (seq: number) => (seq < 4 ? MIXED_SAMPLING[seq]! : GREEDY)
      expect((await batchedRun(gpu, mixed)).tokens).toEqual((await batchedRun(cpu, mixed)).tokens)
    } finally {
      await Promise.all([gpu.close(), cpu.close()])
    }
  })
})
