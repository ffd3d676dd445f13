/**
 * @module
 * A small ONNX graph run on the decoder's logits, on the same device: TopK of each row's single position.
 * JavaScript then samples among K candidates (text/candidate-sampler.ts) instead of scanning the 262,400
 * logits of every sequence every step, which was most of the JavaScript time per decode step.
 */
import { GraphBuilder } from '../contract-model/onnx-builder.ts'
import type { InferenceSession, OrtRuntime, Tensor, TensorType } from './ort-runtime.ts'
import { sessionRun } from './session-run.ts'

/** Candidates per row: covers the usual top_k (Gemma's default is 64) with room for penalised ids. */
export const HEAD_CANDIDATES = 256

export interface RowCandidates {
  ids: number[]
  logits: Float32Array
}

export class SamplingHead {
  readonly #session: InferenceSession
  readonly k: number

  private constructor(session: InferenceSession, k: number) {
    this.#session = session
    this.k = k
  }

  static async create(
    runtime: OrtRuntime,
    logitsType: TensorType,
    vocab: number,
  ): Promise<SamplingHead> {
    const k = Math.min(HEAD_CANDIDATES, vocab)
    return new SamplingHead(await runtime.createSessionFromBytes(build(logitsType, vocab, k)), k)
  }

  /** `logits` [rows, 1, vocab] → per row, the top K, highest first. */
  async run(logits: Tensor): Promise<RowCandidates[]> {
    const out = await sessionRun('sampling head', this.#session, { logits })
    const values = out.values!.data as Float32Array
    const indices = out.indices!.data as BigInt64Array
    const rows = logits.dims[0]!
    const result: RowCandidates[] = []
    for (let r = 0; r < rows; r++) {
      const start = r * this.k
      result.push({
        ids: Array.from(indices.subarray(start, start + this.k), Number),
        logits: values.subarray(start, start + this.k),
      })
    }
    out.values!.dispose()
    out.indices!.dispose()
    return result
  }

  release(): Promise<void> {
    return this.#session.release()
  }
}

function build(logitsType: TensorType, vocab: number, k: number): Uint8Array {
  const g = new GraphBuilder(0)
  // One position per row: the runner only ever fetches logits for single-token feeds. A Slice of the last
  // position would copy the whole [rows, vocab] block (measured: 3.6 ms of 5.4 ms at 16 rows).
  const logits = g.input('logits', logitsType, ['rows', 1, vocab])
  let rows = g.op('Squeeze', [logits, g.int64([1])]) // [rows, vocab], no copy
  if (logitsType === 'float16') rows = g.op('Cast', [rows], { to: 1 })
  // ONNX TopK (opset >= 11): sorted, and equal values keep the lower index first.
  g.opOutputs('TopK', [rows, g.int64([k])], ['values', 'indices'], {
    axis: -1,
    largest: 1,
    sorted: 1,
  })
  g.output('values', 'float32', ['rows', k])
  g.output('indices', 'int64', ['rows', k])
  return g.encode('sampling_head', 'unused.onnx_data').model
}
