/**
 * @module
 * The contract between the engine and the model runner, free of onnxruntime types so the engine and its
 * tests never load a runtime. A runner owns each sequence's KV cache and sampling state between steps.
 */
import type { SamplingParams } from '../text/sampler.ts'
import type { KvPadding } from './kv-batch.ts'

export type { SamplingParams }

/** One sequence's share of a step: new tokens to feed (a prompt chunk, or the last sampled token). */
export interface StepItem {
  seqId: number
  /** `prefill`: prompt tokens into the sequence's own cache; `decode`: one token, batched with the others. */
  phase: 'prefill' | 'decode'
  /**
   * Token ids to append to the sequence: a prompt chunk, or for `decode` the token to feed. A `decode` item
   * may leave it empty: the runner then feeds the token it sampled last for the sequence (the engine sends
   * a step before the previous step's tokens have reached it).
   */
  tokens: number[]
  /** `null`: feed only (a prefill chunk that is not the last); otherwise sample the next token. */
  sampling: SamplingParams | null
  /** Seed for the sequence's random stream; read when the sequence is first seen. */
  seed: number
  /** Images and audio of the prompt: sent with the first prefill chunk only. */
  media?: MediaInput
}

/** Preprocessed media of one prompt and where their soft tokens sit in it. */
export interface MediaInput {
  /** `pixel_values` per image: [3, height, width] float32. */
  images: { data: Float32Array; height: number; width: number }[]
  /** `input_features` per clip: [frames, melBins] float32, and the valid-frame mask. */
  audio: { data: Float32Array; mask: Uint8Array; frames: number; melBins: number }[]
  /** Prompt positions of the image soft tokens (all images, in order), then of the audio ones. */
  imagePositions: number[]
  audioPositions: number[]
}

export interface StepResult {
  seqId: number
  /** The sampled token, or `null` for a feed-only item. */
  token: number | null
}

/** A step's results plus what it cost, for metrics and the benchmark. */
export interface StepOutput {
  results: StepResult[]
  /** Milliseconds inside `session.run` (all sessions) during the step. */
  runMs: number
  /** Milliseconds the whole step took inside the runner. */
  totalMs: number
  /** KV cache entries (tokens) held after the step, padding included. */
  kvTokens: number
  /** Set when the step was withdrawn before it began (`withdrawLastStep`): it ran nothing, no results. */
  withdrawn?: true
}

/** What the runner found in the folder; shown by /health and the start-up banner. */
export interface ModelInfo {
  dir: string
  dtypes: Record<string, string>
  device: string
  runtime: string
  vocabSize: number
  contextLength: number
  hasAttentionMask: boolean
  kvLayers: number
  /** Bytes of KV cache per token of context (all cached layers, K and V). */
  kvBytesPerToken: number
  /**
   * Whether decode steps run as one batch: the decoder declares `attention_mask`, and one padding of the
   * batch gave every sequence what it gets alone when the model was loaded (kv-padding-probe.ts).
   */
  batchedDecode: boolean
  /** Where the batch pads shorter rows (kv-batch.ts); `null` when each sequence decodes alone. */
  kvPadding: KvPadding | null
  /**
   * What a prompt chunk computes of the lm_head: nothing (`graph_rewritten`, last-position-logits.ts), one
   * position (the decoder's own `num_logits_to_keep`), or every position (`computed`; never fetched).
   */
  promptLogits: 'num_logits_to_keep' | 'graph_rewritten' | 'computed'
  /**
   * Where each decode step's top candidates come from: the sampling head fused into the decoder graph
   * (`fused`, fused-sampling-head.ts: the logits leave the session only when a row needs its whole row),
   * or the head's own session, fed the logits every step (`session`).
   */
  samplingHead: 'fused' | 'session'
  /**
   * Whether the fused head applies Gemma's final softcap to its candidates only, instead of the decoder
   * graph to every logit (deferred-softcap.ts).
   */
  deferredSoftcap: boolean
  /** Whether the folder has a vision / audio encoder (image and audio parts are accepted). */
  vision: boolean
  audio: boolean
  /** What the folder lacks that the node runs without (shown as banner warnings). */
  warnings: string[]
  /** Set when the folder is a gemma-edge random-weight contract model. */
  contractModel: { note: string } | null
}

export interface ReleaseOutput {
  /** KV cache entries still held (padding included), like `StepOutput.kvTokens`. */
  kvTokens: number
  /**
   * Milliseconds inside `session.run` (the KV batch rewritten without the released rows) and in the whole
   * release, like the step's: the engine counts them with the step it waits for them with.
   */
  runMs: number
  totalMs: number
}

/**
 * A call may be made before the previous ones have resolved (the engine keeps the next step queued behind
 * the running one, and asks for releases between them); a runner runs its calls one at a time, in the
 * order they were made.
 */
export interface ModelRunner {
  readonly info: ModelInfo
  /** Runs one step for these sequences; one result per item, in order. */
  step(items: StepItem[]): Promise<StepOutput>
  /**
   * Takes back the last step called if the runner has not begun it (step-gate.ts). `true`: it will be
   * skipped for certain; its call resolves with `withdrawn: true` and it changes nothing. `false`: it runs
   * as sent. Not for a step that carries media: their buffers went to the runner with it.
   */
  withdrawLastStep(): boolean
  /** Frees the KV cache and sampling state of finished or cancelled sequences. */
  release(seqIds: number[]): Promise<ReleaseOutput>
  close(): Promise<void>
}

export interface RunnerOptions {
  modelDir: string
  dtype?: string
  runtime: 'node' | 'web'
  device?: 'cpu' | 'cuda' | 'webgpu' | 'wasm'
  threads?: number
  /**
   * `false`: the sampling head runs in a session of its own even where it could be fused into the decoder
   * (what a decoder it cannot be fused into gets; the tests compare the two). Default `true`.
   */
  fuseSamplingHead?: boolean
  /** The step gate's memory when the runner runs in a thread of its own (shared with the engine's side). */
  stepGate?: SharedArrayBuffer
}
