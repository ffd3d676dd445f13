/**
 * @module test/contract-model/helpers
 * Shared by the contract model tests: temporary model folders and a thin forward pass over the
 * embed_tokens + decoder sessions with onnxruntime-node (CPU).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import ort from 'onnxruntime-node'
import { generateContractModel } from '../../../gpu-node/contract-model/generate.ts'
import type { ContractModelOptions } from '../../../gpu-node/contract-model/options.ts'
import { resolveOptions } from '../../../gpu-node/contract-model/options.ts'

/** A fresh temporary parent folder; `cleanup` removes it. */
export async function tempRoot(): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'contract-model-test-'))
  return { root, cleanup: () => rm(root, { recursive: true, force: true }) }
}

/** Generates a model with these options under `root/name` and returns its path. */
export async function makeModel(
  root: string,
  name: string,
  partial: Partial<ContractModelOptions>,
): Promise<string> {
  const dir = join(root, name)
  await generateContractModel(dir, resolveOptions(partial))
  return dir
}

/** embed_tokens + decoder sessions of one variant. */
export interface TextSessions {
  embed: ort.InferenceSession
  decoder: ort.InferenceSession
}

/** Loads embed_tokens and decoder_model_merged with a file suffix ('' for fp32). */
export async function loadText(dir: string, suffix = ''): Promise<TextSessions> {
  const embed = await ort.InferenceSession.create(join(dir, 'onnx', `embed_tokens${suffix}.onnx`))
  const decoder = await ort.InferenceSession.create(
    join(dir, 'onnx', `decoder_model_merged${suffix}.onnx`),
  )
  return { embed, decoder }
}

/** Cache feeds by name. */
export type Cache = Record<string, ort.Tensor>

/** Zero-length cache tensors as transformers.js builds them: batch_size -> B, other symbols -> 0. */
export function emptyCache(decoder: ort.InferenceSession, batch: number): Cache {
  const cache: Cache = {}
  for (const meta of decoder.inputMetadata) {
    if (!meta.name.startsWith('past_key_values.') || !meta.isTensor) continue
    const dims = meta.shape.map((d) => (d === 'batch_size' ? batch : typeof d === 'number' ? d : 0))
    const data = meta.type === 'float16' ? new Uint16Array(0) : new Float32Array(0)
    cache[meta.name] = new ort.Tensor(meta.type as 'float32', data as Float32Array, dims)
  }
  return cache
}

function int64(rows: number[][]): ort.Tensor {
  const flat = BigInt64Array.from(rows.flat().map(BigInt))
  return new ort.Tensor('int64', flat, [rows.length, rows[0]?.length ?? 0])
}

/** Result of one forward step. */
export interface StepResult {
  /** [B, S, V] flattened */
  logits: Float32Array
  vocab: number
  /** present.* renamed to past_key_values.* for the next step */
  cache: Cache
}

/** Runs embed_tokens then the decoder on `ids` [B, S]; `mask` [B, T] only if the decoder declares it. */
export async function step(
  s: TextSessions,
  ids: number[][],
  positions: number[][],
  cache: Cache,
  mask?: number[][],
  extra: Cache = {},
): Promise<StepResult> {
  const embedded = await s.embed.run({ input_ids: int64(ids) })
  const feeds: Cache = {
    inputs_embeds: embedded.inputs_embeds as ort.Tensor,
    per_layer_inputs: embedded.per_layer_inputs as ort.Tensor,
    position_ids: int64(positions),
    ...cache,
    ...extra,
  }
  if (s.decoder.inputNames.includes('attention_mask')) {
    const total = (positions[0]?.length ?? 0) + (Object.values(cache)[0]?.dims[2] ?? 0)
    feeds.attention_mask = int64(mask ?? ids.map(() => Array<number>(total).fill(1)))
  }
  const out = await s.decoder.run(feeds)
  const logits = out.logits as ort.Tensor
  const next: Cache = {}
  for (const [name, tensor] of Object.entries(out)) {
    if (name.startsWith('present.')) next[name.replace('present.', 'past_key_values.')] = tensor
  }
  return { logits: logits.data as Float32Array, vocab: logits.dims[2] ?? 0, cache: next }
}

/** Logits row of (batch b, position s) from a [B, S, V] result. */
export function row(r: StepResult, b: number, s: number, seq: number): Float32Array {
  const start = (b * seq + s) * r.vocab
  return r.logits.subarray(start, start + r.vocab)
}

/** Largest absolute difference between two equal-length arrays. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] ?? 0) - (b[i] ?? 0)))
  return max
}

/** Index of the largest value. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0
  for (let i = 1; i < values.length; i++) if ((values[i] ?? 0) > (values[best] ?? 0)) best = i
  return best
}

/** `count` consecutive positions from `from`. */
export function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i)
}

/** Name, dtype and dims of each tensor in session metadata (non-tensor values fail the test). */
export function tensorMeta(
  list: readonly ort.InferenceSession.ValueMetadata[],
): { name: string; type: string; shape: readonly (number | string)[] }[] {
  return list.map((m) => {
    if (!m.isTensor) throw new Error(`${m.name} is not a tensor`)
    return { name: m.name, type: m.type, shape: m.shape }
  })
}
