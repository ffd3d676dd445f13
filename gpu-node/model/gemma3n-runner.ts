/**
 * @module
 * The Gemma 3n text path on ONNX Runtime: `embed_tokens` then `decoder_model_merged` with a KV cache per
 * sequence, and sampling of the last position (gemma3n-contract.md §3). Runs inside the runner thread
 * (runner-thread.ts) so `session.run` never blocks the HTTP event loop.
 *
 * Each item of a step runs as its own batch-of-one decoder call, so sequences never see each other's
 * tokens whatever the decoder declares; the cache tensors are kept exactly as the graph returned them
 * (no copies between steps).
 */
import { sampleToken, createRng } from '../text/sampler.ts'
import type { Rng } from '../text/sampler.ts'
import { checkTextContract } from './contract-check.ts'
import type { CacheInput, DecoderSignature } from './contract-check.ts'
import { float16ToFloat32 } from './float16.ts'
import { readModelFolder } from './model-folder.ts'
import type { ModelFolder } from './model-folder.ts'
import { openRuntime } from './ort-runtime.ts'
import type { InferenceSession, OrtRuntime, Tensor } from './ort-runtime.ts'
import type { ModelInfo, ModelRunner, RunnerOptions, StepItem, StepResult } from './runner-types.ts'
import { sessionRun } from './session-run.ts'

interface SequenceState {
  /** Tokens already in the cache (the next position id). */
  length: number
  /** `past_key_values.*` for the next step: the previous step's `present.*`, untouched. */
  past: Map<string, Tensor>
  rng: Rng
  /** Generated token counts, for presence/frequency penalties. */
  counts: Map<number, number>
}

const BYTES: Record<string, number> = { float32: 4, float16: 2 }

export class Gemma3nRunner implements ModelRunner {
  readonly info: ModelInfo
  readonly #runtime: OrtRuntime
  readonly #embed: InferenceSession
  readonly #decoder: InferenceSession
  readonly #signature: DecoderSignature
  readonly #sequences = new Map<number, SequenceState>()

  private constructor(
    info: ModelInfo,
    runtime: OrtRuntime,
    embed: InferenceSession,
    decoder: InferenceSession,
    signature: DecoderSignature,
  ) {
    this.info = info
    this.#runtime = runtime
    this.#embed = embed
    this.#decoder = decoder
    this.#signature = signature
  }

  /** Reads the folder, opens the runtime and the text sessions, and checks them against the contract. */
  static async load(options: RunnerOptions): Promise<Gemma3nRunner> {
    const folder = await readModelFolder(options.modelDir, options.dtype)
    const runtime = await openRuntime(options)
    const embedFile = folder.files.embed_tokens!
    const decoderFile = folder.files.decoder_model_merged!
    const embed = await runtime.createSession(embedFile)
    let decoder = await runtime.createSession(decoderFile)
    const presentNames = decoder.outputNames.filter((name) => name.startsWith('present'))
    if (runtime.device === 'webgpu') {
      // Reopen with the cache outputs kept on the GPU: they are fed straight back next step.
      await decoder.release()
      decoder = await runtime.createSession(decoderFile, presentNames)
    }
    const signature = checkTextContract(folder.dir, folder.textConfig, embed, decoder)
    const info = describe(folder, runtime, signature)
    return new Gemma3nRunner(info, runtime, embed, decoder, signature)
  }

  async step(items: StepItem[]): Promise<StepResult[]> {
    const results: StepResult[] = []
    for (const item of items) results.push(await this.#stepOne(item))
    return results
  }

  async release(seqIds: number[]): Promise<void> {
    for (const id of seqIds) {
      const state = this.#sequences.get(id)
      if (!state) continue
      for (const tensor of state.past.values()) tensor.dispose()
      this.#sequences.delete(id)
    }
  }

  async close(): Promise<void> {
    await this.release([...this.#sequences.keys()])
    await this.#embed.release()
    await this.#decoder.release()
  }

  /** Running sequences and the tokens their caches hold (for memory accounting). */
  cachedTokens(): number {
    let total = 0
    for (const state of this.#sequences.values()) total += state.length
    return total
  }

  async #stepOne(item: StepItem): Promise<StepResult> {
    const state = this.#sequences.get(item.seqId) ?? this.#open(item)
    const count = item.tokens.length
    const ids = this.#int64(item.tokens, [1, count])
    const embedded = await sessionRun('embed_tokens', this.#embed, { input_ids: ids })
    const feeds = this.#decoderFeeds(state, count, embedded)
    const out = await sessionRun('decoder_model_merged', this.#decoder, feeds)
    for (const cache of this.#signature.cache) {
      state.past.get(cache.name)?.dispose()
      state.past.set(cache.name, out[cache.present]!)
    }
    state.length += count
    embedded.inputs_embeds?.dispose()
    embedded.per_layer_inputs?.dispose()
    const logits = out.logits!
    try {
      if (!item.sampling) return { seqId: item.seqId, token: null }
      const token = sampleToken(lastRow(logits), item.sampling, state.rng, state.counts)
      state.counts.set(token, (state.counts.get(token) ?? 0) + 1)
      return { seqId: item.seqId, token }
    } finally {
      logits.dispose()
    }
  }

  #open(item: StepItem): SequenceState {
    const state: SequenceState = {
      length: 0,
      past: new Map(),
      rng: createRng(item.seed),
      counts: new Map(),
    }
    this.#sequences.set(item.seqId, state)
    return state
  }

  #decoderFeeds(
    state: SequenceState,
    count: number,
    embedded: Record<string, Tensor>,
  ): Record<string, Tensor> {
    const sig = this.#signature
    const feeds: Record<string, Tensor> = {
      inputs_embeds: embedded.inputs_embeds!,
      per_layer_inputs: embedded.per_layer_inputs!,
    }
    if (sig.hasPositionIds) {
      // 0-based absolute positions for gemma3n (contract §3): the cache holds positions 0..length-1.
      const positions = Array.from({ length: count }, (_, i) => state.length + i)
      feeds.position_ids = this.#int64(positions, [1, count])
    }
    if (sig.hasAttentionMask) {
      const total = state.length + count
      feeds.attention_mask = this.#runtime.tensor('int64', new BigInt64Array(total).fill(1n), [
        1,
        total,
      ])
    }
    if (sig.hasNumLogitsToKeep) feeds.num_logits_to_keep = this.#int64([1], [])
    if (sig.hasUseCacheBranch) {
      feeds.use_cache_branch = this.#runtime.tensor(
        'bool',
        Uint8Array.of(state.length > 0 ? 1 : 0),
        [1],
      )
    }
    for (const cache of sig.cache) {
      feeds[cache.name] = state.past.get(cache.name) ?? this.#emptyCache(cache)
    }
    return feeds
  }

  /** A zero-length past: symbolic dims resolve to 0 except the batch (contract §3, step 4). */
  #emptyCache(cache: CacheInput): Tensor {
    const dims = cache.shape.map((d, i) => (i === 0 ? 1 : typeof d === 'number' ? d : 0))
    const data = cache.type === 'float16' ? new Uint16Array(0) : new Float32Array(0)
    return this.#runtime.tensor(cache.type, data, dims)
  }

  #int64(values: number[], dims: number[]): Tensor {
    return this.#runtime.tensor(
      'int64',
      BigInt64Array.from(values, (v) => BigInt(v)),
      dims,
    )
  }
}

/** The last position's logits as float32: `logits` is [1, S, vocab]. */
function lastRow(logits: Tensor): Float32Array {
  const vocab = logits.dims[2]!
  const rows = logits.dims[1]!
  const start = (rows - 1) * vocab
  if (logits.type === 'float16') {
    return float16ToFloat32((logits.data as Uint16Array).subarray(start, start + vocab))
  }
  return (logits.data as Float32Array).subarray(start, start + vocab)
}

function describe(folder: ModelFolder, runtime: OrtRuntime, sig: DecoderSignature): ModelInfo {
  const text = folder.textConfig
  const marker = folder.config.gemma_edge_contract_model as { note?: string } | undefined
  let kvBytesPerToken = 0
  for (const cache of sig.cache) {
    const [, heads, , dim] = cache.shape
    kvBytesPerToken += (Number(heads) || 1) * (Number(dim) || 1) * (BYTES[cache.type] ?? 4)
  }
  return {
    dir: folder.dir,
    dtypes: Object.fromEntries(
      Object.entries(folder.files).flatMap(([name, file]) => (file ? [[name, file.dtype]] : [])),
    ),
    device: runtime.device,
    runtime: runtime.name,
    vocabSize: Number(text.vocab_size),
    contextLength: Number(text.max_position_embeddings ?? 32_768),
    hasAttentionMask: sig.hasAttentionMask,
    kvLayers: sig.cache.length / 2,
    kvBytesPerToken,
    contractModel: marker ? { note: marker.note ?? 'random-weight contract model' } : null,
  }
}
