/**
 * The engine on the real runner thread and real ONNX sessions (the small masked contract model): sequences
 * that join a running batch and leave it mid-run, with their releases sent right before the next step
 * without waiting for them, generate exactly the greedy tokens they generate alone. This is what the
 * runner's one-call-at-a-time order guarantees (a step that ran while a release rewrote the batch would
 * mix rows up). On the CPU, and on WebGPU (Dawn inside the runner's worker thread) where onnxruntime-node
 * opens an adapter (Mesa's lavapipe on CI).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Engine } from '../../../gpu-node/engine/engine.ts'
import type { GenerationEvent, SequenceRequest } from '../../../gpu-node/engine/engine.ts'
import { startRunnerThread } from '../../../gpu-node/model/remote-runner.ts'
import type { ModelRunner, StepItem, StepOutput } from '../../../gpu-node/model/runner-types.ts'
import { devicesToTest } from '../../support/webgpu.ts'
import { GREEDY, SMALL_VOCAB_PROMPTS, makeFolder, tempRoot } from '../model/greedy.ts'

const DEVICES = await devicesToTest('The engine thread')

const PROMPTS = SMALL_VOCAB_PROMPTS
/** Tokens each sequence generates: different lengths, so sequences leave while others run. */
const LENGTHS = [6, 20, 12, 3, 16]

/** Each id as `<id>`, so the text a sequence streams gives back its token ids (no EOS: runs to length). */
const ids = { decode: (tokens: number[]) => tokens.map((t) => `<${t}>`).join(''), eosIds: [] }

const options = {
  maxRunning: 8,
  maxQueued: 8,
  prefillChunk: 512,
  maxStepTokens: 2048,
  kvBudgetTokens: 100_000,
  paddedBatch: true,
}

function request(seq: number, maxTokens: number): SequenceRequest {
  return {
    requestId: `r${seq}`,
    tenant: 't',
    promptIds: PROMPTS[seq]!,
    maxTokens,
    sampling: GREEDY,
    seed: 0,
    stop: [],
    priority: 0,
  }
}

/** The token ids a generation streams; `onToken` sees the count so far. */
async function tokensOf(
  events: AsyncIterable<GenerationEvent>,
  onToken: (count: number) => void = () => {},
): Promise<number[]> {
  let text = ''
  for await (const event of events) {
    if (event.type !== 'text') continue
    text += event.text
    onToken(event.usage.completionTokens)
  }
  return [...text.matchAll(/<(\d+)>/g)].map((m) => Number(m[1]))
}

let cleanup: () => Promise<void>
let dir: string
beforeAll(async () => {
  const temp = await tempRoot('gemma-engine-thread')
  cleanup = temp.cleanup
  dir = await makeFolder(temp.root, 'masked', { vocab: 'small', attentionMask: true })
})
afterAll(async () => cleanup?.())

describe.each(DEVICES)('engine on the runner thread (%s)', (device) => {
  let runner: ModelRunner
  beforeAll(async () => {
    runner = await startRunnerThread({ modelDir: dir, runtime: 'node', device })
  })
  afterAll(async () => runner?.close())

  it('skips a step taken back before it began; the sequence goes on as if it had never been sent', async () => {
    const prompt = PROMPTS[0]!
    const prefill = (seqId: number): StepItem => ({
      seqId,
      phase: 'prefill',
      tokens: prompt,
      sampling: GREEDY,
      seed: 0,
    })
    const decode = (seqId: number): StepItem => ({ ...prefill(seqId), phase: 'decode', tokens: [] })
    const tokenOf = async (step: Promise<StepOutput>) => (await step).results[0]!.token!
    const reference = [await tokenOf(runner.step([prefill(100)]))]
    for (let i = 0; i < 3; i++) reference.push(await tokenOf(runner.step([decode(100)])))
    await runner.release([100])

    // The withdrawal lands only while the first step runs and the second has not begun: try a few times.
    let withdrawals = 0
    for (let seqId = 101; seqId < 111 && withdrawals === 0; seqId++) {
      const first = runner.step([prefill(seqId)])
      let answered = false
      const second = runner.step([decode(seqId)]).finally(() => (answered = true))
      let withdrawn = false
      while (!answered && !(withdrawn = runner.withdrawLastStep())) {
        await new Promise((resolve) => setImmediate(resolve))
      }
      const tokens = [await tokenOf(first)]
      if (withdrawn) {
        withdrawals++
        await expect(second).resolves.toMatchObject({ withdrawn: true, results: [] })
      } else {
        tokens.push(await tokenOf(second))
      }
      while (tokens.length < reference.length)
        tokens.push(await tokenOf(runner.step([decode(seqId)])))
      expect(tokens).toEqual(reference)
      await runner.release([seqId])
    }
    expect(withdrawals).toBe(1)
  })

  it('gives sequences that join and leave mid-run the greedy tokens they get alone', async () => {
    expect(runner.info).toMatchObject({ batchedDecode: true, device })
    const engine = new Engine(runner, ids, options)
    const alone: number[][] = []
    for (const [seq, length] of LENGTHS.entries()) {
      alone.push(await tokensOf(engine.generate(request(seq, length))))
    }
    // 0, 1 and 2 start together; 3 and 4 join once 1 has 4 tokens. 3 and 0 leave while the rest run.
    let join!: () => void
    const joining = new Promise<void>((resolve) => (join = resolve))
    const first = [0, 1, 2].map((seq) =>
      tokensOf(engine.generate(request(seq, LENGTHS[seq]!)), (count) => {
        if (seq === 1 && count === 4) join()
      }),
    )
    await joining
    const joined = [3, 4].map((seq) => tokensOf(engine.generate(request(seq, LENGTHS[seq]!))))
    const together = await Promise.all([...first, ...joined])
    expect(together).toEqual(alone)
    expect(together.map((t) => t.length)).toEqual(LENGTHS)
    // Not degenerate: a mix-up between sequences would show.
    expect(new Set(alone.map((t) => t.join(','))).size).toBe(PROMPTS.length)
    expect(engine.stats()).toMatchObject({ running: 0, queued: 0 })
    // Every cache freed, and the KV use reported as such once the last release is answered.
    await expect.poll(() => engine.stats().kvTokens).toBe(0)
    await engine.close()
  })
})
