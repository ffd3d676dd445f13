/**
 * @module
 * The Gemma 3n text path on ONNX Runtime: `embed_tokens` then `decoder_model_merged` with a KV cache, and
 * sampling of the last position (gemma3n-contract.md §3). Runs inside the runner thread (runner-thread.ts)
 * so `session.run` never blocks the HTTP event loop.
 *
 * - Prefill runs per sequence (batch of one) into the sequence's own cache, chunk by chunk, fetching only
 *   the cache outputs. The prompt's last token is held back and decoded like a generated token, so the
 *   [tokens, 262,400] logits of a prompt never leave the session: only one row per sequence does. A
 *   decoder without `num_logits_to_keep` is loaded with a Slice in front of its lm_head
 *   (last-position-logits.ts): a decode step computes the last position's logits, a prompt chunk none on
 *   the CPU devices (one row on a GPU).
 * - Decode runs every decoding sequence in ONE decoder call when the decoder declares `attention_mask`:
 *   their caches live in a persistent padded batch (kv-batch.ts) that the decoder's outputs feed straight
 *   back into. The lm_head (262,400 x hidden for Gemma 3n) is then read once per step instead of once per
 *   sequence, which is where batching wins. Where the padding goes depends on the decoder's attention;
 *   the load tries each padding on a short script and keeps the first that gives every sequence what it
 *   gets alone (kv-padding-probe.ts).
 * - A decoder without `attention_mask` cannot hide padding, and rows of different lengths cannot share a
 *   batch without it; such a model, or one that no padding suits, decodes each sequence on its own
 *   (correct, no batching gain).
 * - Sampling reads each row's top candidates, which the sampling head fused into the decoder graph returns
 *   (fused-sampling-head.ts): the logits are fetched only in a step where some row may need its whole row,
 *   and on WebGPU they stay on the GPU until then (host-copy.ts). A decoder the head cannot be fused into
 *   feeds its logits to the head's own session (sampling-head.ts).
 */
import { readsFullRow, sampleCandidates } from '../text/candidate-sampler.ts'
import { createRng, sampleToken } from '../text/sampler.ts'
import type { Rng } from '../text/sampler.ts'
import { checkTextContract } from './contract-check.ts'
import type { DecoderSignature } from './contract-check.ts'
import { rowLogits } from './logits-row.ts'
import { KvBatch } from './kv-batch.ts'
import type { KvPadding } from './kv-batch.ts'
import { probePadding } from './kv-padding-probe.ts'
import { KvGraphs } from './kv-graphs.ts'
import { decoderGraphs } from './decoder-graphs.ts'
import { orderTies, Softcap } from './deferred-softcap.ts'
import type { DecoderGraph } from './decoder-graphs.ts'
import { FUSED_HEAD_OUTPUTS } from './fused-sampling-head.ts'
import { LOGITS_FROM_INPUT, LOGITS_FROM_NONE } from './last-position-logits.ts'
import { MediaEncoders } from './media-encoders.ts'
import { readModelFolder } from './model-folder.ts'
import type { SessionFile } from './model-folder.ts'
import { PromptMedia } from './prompt-media.ts'
import { HostCopy } from './host-copy.ts'
import { headPlan, readCandidates, SamplingHead } from './sampling-head.ts'
import type { HeadPlan, RowCandidates } from './sampling-head.ts'
import { createTurns } from './in-turn.ts'
import { StepGate } from './step-gate.ts'
import { describeModel } from './model-info.ts'
import { isCpuDevice, keepsOutputsOnDevice, openRuntime } from './ort-runtime.ts'
import type { InferenceSession, OrtRuntime, Tensor } from './ort-runtime.ts'
import type {
  MediaInput,
  ModelInfo,
  ModelRunner,
  ReleaseOutput,
  RunnerOptions,
  SamplingParams,
  StepItem,
  StepOutput,
} from './runner-types.ts'
import { sessionRun } from './session-run.ts'

/** A sequence's row in this step's batched decoder call. */
interface DecodeRow {
  seqId: number
  token: number
  sampling: SamplingParams
  state: SequenceState
}

interface SequenceState {
  /** Encoded images and audio of the prompt, merged into prefill chunks; dropped after prefill. */
  media: PromptMedia | null
  /** Tokens in the cache: also the next position id (0-based, contract §3). */
  length: number
  /** The sequence's own cache while it prefills (or always, without batching); empty once in the batch. */
  past: Map<string, Tensor>
  rng: Rng
  /** Generated token counts, for presence/frequency penalties. */
  counts: Map<number, number>
  /** The token sampled last: what a decode item without a token feeds. */
  lastSampled: number | null
}

/**
 * The decoder session, from the first of its rewritten graphs (decoder-graphs.ts) the runtime accepts,
 * else from the file as exported (prompt logits computed, never fetched; the head in a session of its own),
 * the softcap its fused head applies (`null`: none, its `logits` are final), and the graph it came from.
 */
async function openDecoder(
  runtime: OrtRuntime,
  file: SessionFile,
  graphs: Iterable<DecoderGraph> | AsyncIterable<DecoderGraph>,
  keepOnDevice: string[],
): Promise<{ session: InferenceSession; softcap: number | null; graph: DecoderGraph | null }> {
  for await (const graph of graphs) {
    try {
      const session = await runtime.createSession(file, keepOnDevice, graph.bytes)
      return { session, softcap: graph.softcap, graph }
    } catch (error) {
      console.warn(
        `decoder_model_merged: the graph with ${graph.rewrites} did not load, so the next best is tried (${String(error)})`,
      )
    }
  }
  return { session: await runtime.createSession(file, keepOnDevice), softcap: null, graph: null }
}

/**
 * `openDecoder`, then, where outputs can stay on the device, the same graph reopened with the cache outputs
 * kept on the GPU, as they are fed straight back next step, and the logits, which the sampling head reads
 * there (JavaScript only when a row needs its whole row). The graph's bytes (1.5 GB for a decoder with its
 * weights inline) are let go on return.
 */
async function openDecoderSession(
  runtime: OrtRuntime,
  file: SessionFile,
  graphs: AsyncIterable<DecoderGraph>,
  onDevice: boolean,
): Promise<{ session: InferenceSession; softcap: number | null }> {
  const opened = await openDecoder(runtime, file, graphs, [])
  if (!onDevice) return opened
  const keep = opened.session.outputNames.filter(
    (name) => name.startsWith('present') || name === 'logits',
  )
  await opened.session.release()
  return openDecoder(runtime, file, opened.graph ? [opened.graph] : [], keep)
}

export class Gemma3nRunner implements ModelRunner {
  readonly info: ModelInfo
  readonly #runtime: OrtRuntime
  readonly #embed: InferenceSession
  readonly #decoder: InferenceSession
  readonly #signature: DecoderSignature
  /** The decoder's cache outputs (`present.*`), which every run fetches and the batch or sequence keeps. */
  readonly #presents: ReadonlySet<string>
  /** The batch's join and removal graphs; `null` without a batch (released when no padding fits). */
  #graphs: KvGraphs | null
  /** The decoding sequences' caches; `null` while each decodes alone (set by `#choosePadding`). */
  #batch: KvBatch | null = null
  /** Sees each sampled row's candidates, while the load probes the paddings; `null` otherwise. */
  #observe: ((seqId: number, top: RowCandidates) => void) | null = null
  /** The sampling head's own session; `null` when it is fused into the decoder (fused-sampling-head.ts). */
  readonly #head: SamplingHead | null
  readonly #plan: HeadPlan
  /**
   * Where the decoder keeps its logits on the device: their copier to the host (host-copy.ts); `null`
   * where `#softcap` brings them (its output comes back in host memory).
   */
  readonly #hostCopy: HostCopy | null
  /** Where the fused head took the softcap off the graph: applied to whole rows when they are read. */
  readonly #softcap: Softcap | null
  readonly #encoders: MediaEncoders
  readonly #sequences = new Map<number, SequenceState>()
  #runMs = 0
  /** Calls run one at a time, in the order made (ModelRunner): a step never meets a release half done. */
  readonly #inTurn = createTurns()
  /** Whether a step called is still to run when its turn comes (the engine may withdraw it). */
  readonly #gate: StepGate
  #stepCalls = 0

  private constructor(
    info: ModelInfo,
    runtime: OrtRuntime,
    sessions: {
      embed: InferenceSession
      decoder: InferenceSession
      graphs: KvGraphs | null
      head: SamplingHead | null
      plan: HeadPlan
      hostCopy: HostCopy | null
      softcap: Softcap | null
      encoders: MediaEncoders
    },
    signature: DecoderSignature,
    gate: StepGate,
  ) {
    this.info = info
    this.#gate = gate
    this.#runtime = runtime
    this.#embed = sessions.embed
    this.#decoder = sessions.decoder
    this.#graphs = sessions.graphs
    this.#head = sessions.head
    this.#plan = sessions.plan
    this.#hostCopy = sessions.hostCopy
    this.#softcap = sessions.softcap
    this.#encoders = sessions.encoders
    this.#signature = signature
    this.#presents = new Set(signature.cache.map((c) => c.present))
  }

  /** Reads the folder, opens the runtime and the text sessions, and checks them against the contract. */
  static async load(options: RunnerOptions): Promise<Gemma3nRunner> {
    const folder = await readModelFolder(options.modelDir, options.dtype)
    const runtime = await openRuntime(options)
    const decoderFile = folder.files.decoder_model_merged!
    const embed = await runtime.createSession(folder.files.embed_tokens!)
    const vocab = Number(folder.textConfig.vocab_size)
    const plan = headPlan(runtime.device, vocab)
    const fuse = options.fuseSamplingHead ?? true
    const graphs = decoderGraphs(decoderFile.path, vocab, fuse ? plan : null)
    const onDevice = keepsOutputsOnDevice(runtime.device)
    const { session: decoder, softcap: deferred } = await openDecoderSession(
      runtime,
      decoderFile,
      graphs,
      onDevice,
    )
    const signature = checkTextContract(folder.dir, folder.textConfig, embed, decoder)
    const kvGraphs = signature.hasAttentionMask
      ? await KvGraphs.create(runtime, signature.cache)
      : null
    const info = describeModel(folder, runtime, signature)
    const fused = decoder.outputNames.includes(FUSED_HEAD_OUTPUTS.values)
    const head = fused
      ? null
      : await SamplingHead.create(runtime, signature.logitsType, vocab, plan)
    const encoders = await MediaEncoders.load(runtime, folder.files)
    info.vision = encoders.hasVision
    info.audio = encoders.hasAudio
    if (fused) info.samplingHead = 'fused'
    info.deferredSoftcap = deferred !== null
    const softcap = deferred === null ? null : await Softcap.create(runtime, deferred)
    const hostCopy =
      onDevice && !softcap ? await HostCopy.create(runtime, signature.logitsType, 3) : null
    const sessions = { embed, decoder, graphs: kvGraphs, head, plan, hostCopy, softcap, encoders }
    const gate = new StepGate(options.stepGate)
    const runner = new Gemma3nRunner(info, runtime, sessions, signature, gate)
    if (kvGraphs) await runner.#choosePadding(kvGraphs)
    return runner
  }

  /**
   * Batches decoding with the first padding that reproduces decoding alone (kv-padding-probe.ts), or
   * leaves each sequence to decode alone, saying why in the log. Runs before any call is made.
   */
  async #choosePadding(graphs: KvGraphs): Promise<void> {
    const batchOf = (padding: KvPadding | null) => (padding ? new KvBatch(graphs, padding) : null)
    const choice = await probePadding({
      vocabSize: this.info.vocabSize,
      useBatch: (padding) => (this.#batch = batchOf(padding)),
      step: (items) => this.#step(items),
      release: (seqIds) => this.#release(seqIds),
      observe: (tap) => (this.#observe = tap),
      reset: async () => {
        this.#batch?.clear()
        this.#batch = null
        await this.#release([...this.#sequences.keys()])
      },
    })
    this.#batch = batchOf(choice.padding)
    this.info.batchedDecode = choice.padding !== null
    this.info.kvPadding = choice.padding
    if (!choice.padding) {
      await graphs.release()
      this.#graphs = null
      console.warn(
        `decoder_model_merged: batched decoding did not give each sequence what it gets alone, so each sequence decodes on its own: ${choice.refused.join('; ')}`,
      )
    }
  }

  step(items: StepItem[]): Promise<StepOutput> {
    const call = ++this.#stepCalls
    return this.#inTurn(() => (this.#gate.begin(call) ? this.#step(items) : this.#skipped()))
  }

  withdrawLastStep(): boolean {
    return this.#gate.withdraw(this.#stepCalls)
  }

  release(seqIds: number[]): Promise<ReleaseOutput> {
    return this.#inTurn(() => this.#release(seqIds))
  }

  close(): Promise<void> {
    return this.#inTurn(() => this.#close())
  }

  async #step(items: StepItem[]): Promise<StepOutput> {
    const started = performance.now()
    this.#runMs = 0
    const tokens = new Map<number, number | null>()
    const rows: DecodeRow[] = []
    for (const item of items) {
      const state = this.#state(item)
      // A prompt's last token is decoded like a generated one, so no prompt position's logits are ever
      // fetched from the session (see #feed).
      const pending =
        item.phase === 'prefill' ? await this.#prefill(item, state) : decodeToken(item, state)
      if (pending === null || !item.sampling) {
        tokens.set(item.seqId, null)
      } else if (this.#batch && state.length > 0 && !state.media?.covers(state.length)) {
        // Into the batch. Alone instead: a decoder without attention_mask, a one-token prompt (no cache to
        // join yet), or a last prompt token that is an image or audio soft token.
        state.media = null // the rest of the prompt is in the cache: its media are no longer needed
        rows.push({ seqId: item.seqId, token: pending, sampling: item.sampling, state })
      } else {
        tokens.set(item.seqId, await this.#decodeAlone(item.seqId, state, pending, item.sampling))
      }
    }
    if (rows.length > 0) await this.#decodeBatch(rows, tokens)
    return {
      results: items.map((item) => ({ seqId: item.seqId, token: tokens.get(item.seqId) ?? null })),
      runMs: this.#runMs,
      totalMs: performance.now() - started,
      kvTokens: this.#kvTokens(),
    }
  }

  #skipped(): Promise<StepOutput> {
    return Promise.resolve({
      results: [],
      runMs: 0,
      totalMs: 0,
      kvTokens: this.#kvTokens(),
      withdrawn: true,
    })
  }

  async #release(seqIds: number[]): Promise<ReleaseOutput> {
    const started = performance.now()
    this.#runMs = 0
    for (const id of seqIds) {
      const state = this.#sequences.get(id)
      if (!state) continue
      for (const tensor of state.past.values()) tensor.dispose()
      this.#sequences.delete(id)
    }
    // Freed at once: the batch is rewritten without these rows now, not at the next step.
    await this.#timed(() => this.#batch?.remove(new Set(seqIds)) ?? Promise.resolve())
    return { kvTokens: this.#kvTokens(), runMs: this.#runMs, totalMs: performance.now() - started }
  }

  async #close(): Promise<void> {
    await this.#release([...this.#sequences.keys()])
    this.#batch?.clear()
    await Promise.all([
      this.#embed.release(),
      this.#decoder.release(),
      this.#graphs?.release(),
      this.#head?.release(),
      this.#hostCopy?.release(),
      this.#softcap?.release(),
      this.#encoders.release(),
    ])
  }

  /**
   * Feeds a prompt chunk into the sequence's own cache. The last chunk keeps its final token back and
   * returns it, to be decoded next; `null` when there is nothing to sample (a chunk that is not the last).
   */
  async #prefill(item: StepItem, state: SequenceState): Promise<number | null> {
    if (item.media) state.media = await this.#encode(item.media)
    const fed = item.sampling ? item.tokens.slice(0, -1) : item.tokens
    if (fed.length > 0) await this.#feed(state, fed, null)
    return item.sampling ? item.tokens.at(-1)! : null
  }

  /** One decoder call for every decoding sequence; sequences fresh from prefill join the batch first. */
  async #decodeBatch(rows: DecodeRow[], tokens: Map<number, number | null>): Promise<void> {
    const batch = this.#batch!
    for (const row of rows) {
      if (batch.has(row.seqId)) continue
      await this.#timed(() => batch.join(row.seqId, row.state.past, row.state.length))
      row.state.past = new Map()
    }
    const byId = new Map(rows.map((row) => [row.seqId, row]))
    const order = batch.seqIds.map((id) => byId.get(id))
    if (order.length !== rows.length || order.includes(undefined)) {
      throw new Error(
        `internal: the KV batch holds ${order.length} sequences but ${rows.length} decode`,
      )
    }
    const ordered = order as DecodeRow[]
    const mask = batch.attentionMask()
    const feeds = await this.#embedFeeds(
      ordered.map((row) => row.token),
      [ordered.length, 1],
    )
    feeds.position_ids = this.#int64(
      ordered.map((row) => row.state.length),
      [ordered.length, 1],
    )
    feeds.attention_mask = this.#runtime.tensor('int64', mask.data, mask.dims)
    this.#optionalFeeds(feeds, true)
    for (const cache of this.#signature.cache) feeds[cache.name] = batch.caches.get(cache.name)!
    const fullRow = ordered.some((row) => this.#readsFullRow(row.sampling, row.state))
    const out = await this.#timed(() =>
      sessionRun('decoder_model_merged', this.#decoder, feeds, this.#fetches(true, fullRow)),
    )
    disposeInputs(feeds)
    batch.advance(new Map(this.#signature.cache.map((c) => [c.name, out[c.present]!])))
    const candidates = await this.#candidates(out)
    const logits = await this.#readableLogits(out.logits, fullRow)
    ordered.forEach((row, index) => {
      this.#observe?.(row.seqId, candidates[index]!)
      row.state.length += 1
      tokens.set(
        row.seqId,
        this.#sample(logits, index, candidates[index]!, row.sampling, row.state),
      )
    })
    if (logits !== out.logits) logits?.dispose()
    this.#disposeNonCache(out)
  }

  /** Decodes one token on the sequence's own cache: no batching (see the module comment). */
  async #decodeAlone(
    seqId: number,
    state: SequenceState,
    token: number,
    sampling: SamplingParams,
  ): Promise<number> {
    const fullRow = this.#readsFullRow(sampling, state)
    const out = await this.#feed(state, [token], { fullRow })
    state.media = null // the whole prompt is in the cache: its media are no longer needed
    const [candidates] = await this.#candidates(out)
    this.#observe?.(seqId, candidates!)
    const logits = await this.#readableLogits(out.logits, fullRow)
    const next = this.#sample(logits, 0, candidates!, sampling, state)
    if (logits !== out.logits) logits?.dispose()
    this.#disposeNonCache(out)
    return next
  }

  /** Whether sampling this row may read its whole logits row, so the step must fetch the logits. */
  #readsFullRow(sampling: SamplingParams, state: SequenceState): boolean {
    return readsFullRow(sampling, state.counts, this.#plan.k)
  }

  /**
   * What a decoder run fetches: the caches; for a decode run also the top candidates (the fused head's
   * outputs, or the logits the head's own session reads), and the logits when a row may read its whole
   * row. Where outputs stay on the device, everything (see #feed).
   */
  #fetches(decode: boolean, fullRow: boolean): string[] | undefined {
    if (keepsOutputsOnDevice(this.#runtime.device)) return undefined
    const names = [...this.#presents]
    if (!decode) return names
    if (this.#head || fullRow) names.push('logits')
    if (!this.#head) {
      names.push(FUSED_HEAD_OUTPUTS.values, FUSED_HEAD_OUTPUTS.ids)
    }
    return names
  }

  /** Each row's top candidates: from the fused head's outputs, else the head's own session. */
  async #candidates(out: Record<string, Tensor>): Promise<RowCandidates[]> {
    if (this.#head) return this.#timed(() => this.#head!.run(out.logits!))
    const { values, ids } = FUSED_HEAD_OUTPUTS
    const rows = readCandidates({ values: out[values]!, ids: out[ids]! }, this.#plan.k)
    if (this.#softcap) rows.forEach(orderTies)
    return rows
  }

  /**
   * The step's logits where JavaScript can read them (after the softcap, where the fused head took it off
   * the graph): in host memory as fetched, or copied there from the device when a row may read its whole
   * row; else `null`. The caller disposes the result when it is not `logits` itself.
   */
  async #readableLogits(logits: Tensor | undefined, fullRow: boolean): Promise<Tensor | null> {
    if (!logits || (logits.location === 'gpu-buffer' && !fullRow)) return null
    // The softcap's session hands its output back in host memory, so it is the copy from the device too.
    if (this.#softcap) return this.#timed(() => this.#softcap!.apply(logits))
    if (logits.location !== 'gpu-buffer') return logits
    return this.#timed(() => this.#hostCopy!.toHost(logits))
  }

  /** Disposes a run's outputs other than the caches (those now belong to the batch or the sequence). */
  #disposeNonCache(out: Record<string, Tensor>): void {
    for (const [name, tensor] of Object.entries(out))
      if (!this.#presents.has(name)) tensor.dispose()
  }

  /**
   * A batch of one on the sequence's own cache. A prompt chunk (`decode` null) fetches only the cache
   * outputs: copying [tokens, 262,400] logits out of the session cost far more than the step itself
   * (measured: 16 prompts of 40 tokens, 2.6 s with logits, 0.22 s without). A decode run returns the
   * outputs it fetched besides the caches (#fetches), for the caller to dispose.
   */
  async #feed(
    state: SequenceState,
    ids: number[],
    decode: { fullRow: boolean } | null,
  ): Promise<Record<string, Tensor>> {
    const withLogits = decode !== null
    const count = ids.length
    const feeds = await this.#embedFeeds(ids, [1, count])
    state.media?.mergeInto(
      feeds.inputs_embeds!.data as Float32Array | Uint16Array,
      state.length,
      count,
    )
    feeds.position_ids = this.#int64(
      Array.from({ length: count }, (_, i) => state.length + i),
      [1, count],
    )
    const total = state.length + count
    feeds.attention_mask = this.#runtime.tensor('int64', new BigInt64Array(total).fill(1n), [
      1,
      total,
    ])
    this.#optionalFeeds(feeds, state.length > 0, withLogits)
    for (const cache of this.#signature.cache) {
      feeds[cache.name] = state.past.get(cache.name) ?? this.#emptyCache(cache.type, cache.shape)
    }
    // Where outputs stay on the device, every output is fetched (#fetches). onnxruntime-node 1.30 runs
    // such a session through one IoBinding kept for its whole life, whose bound outputs are never cleared:
    // a run that fetches another set of outputs than the last gets them under the wrong names (the logits
    // as a cache) or fails with "Output count mismatch". So every run of the decoder fetches the same set.
    // Found on WebGPU over Mesa's lavapipe; test/node/model/batching.test.ts runs on it.
    const fetches = this.#fetches(withLogits, decode?.fullRow ?? false)
    const out = await this.#timed(() =>
      sessionRun('decoder_model_merged', this.#decoder, feeds, fetches),
    )
    disposeInputs(feeds)
    for (const tensor of state.past.values()) tensor.dispose()
    state.past = new Map(this.#signature.cache.map((c) => [c.name, out[c.present]!]))
    state.length = total
    if (withLogits) return out
    this.#disposeNonCache(out)
    return {}
  }

  /** Runs the vision and audio encoders (cached by content) for a prompt's media. */
  async #encode(media: MediaInput): Promise<PromptMedia> {
    const merged = new PromptMedia()
    if (media.images.length > 0) {
      merged.add(
        media.imagePositions,
        await this.#timed(() => this.#encoders.encodeImages(media.images)),
      )
    }
    if (media.audio.length > 0) {
      merged.add(
        media.audioPositions,
        await this.#timed(() => this.#encoders.encodeAudio(media.audio)),
      )
    }
    return merged
  }

  async #embedFeeds(ids: number[], dims: number[]): Promise<Record<string, Tensor>> {
    const input = this.#int64(ids, dims)
    const embedded = await this.#timed(() =>
      sessionRun('embed_tokens', this.#embed, { input_ids: input }),
    )
    return { inputs_embeds: embedded.inputs_embeds!, per_layer_inputs: embedded.per_layer_inputs! }
  }

  /** Inputs some exports declare; fed only when declared (transformers.js does the same). */
  #optionalFeeds(feeds: Record<string, Tensor>, hasPast: boolean, withLogits = true): void {
    const sig = this.#signature
    if (!sig.hasPositionIds) delete feeds.position_ids
    if (!sig.hasAttentionMask) delete feeds.attention_mask
    if (sig.hasNumLogitsToKeep) feeds.num_logits_to_keep = this.#int64([1], [])
    if (sig.hasLogitsFrom) {
      // Logits for the last position of a decode step, none for a prompt chunk (never read). The empty
      // lm_head runs only where it was tested, on the CPU devices; a GPU computes one row instead.
      const from = withLogits || !isCpuDevice(this.#runtime.device) ? -1n : LOGITS_FROM_NONE
      feeds[LOGITS_FROM_INPUT] = this.#runtime.tensor('int64', BigInt64Array.of(from), [1])
    }
    if (sig.hasUseCacheBranch) {
      feeds.use_cache_branch = this.#runtime.tensor('bool', Uint8Array.of(hasPast ? 1 : 0), [1])
    }
  }

  /**
   * From the row's top candidates when they decide exactly, else from the whole row. `logits` is `null`
   * when the step did not fetch them (no row may read them: #readsFullRow); a row then only falls through
   * to the whole row when its best logit is not finite (a broken model), and gets its best candidate.
   */
  #sample(
    logits: Tensor | null,
    row: number,
    top: RowCandidates,
    sampling: SamplingParams,
    state: SequenceState,
  ): number {
    let full: Float32Array | null = null
    const fullRow = () => {
      if (!logits) throw new Error('internal: a row read logits that its step did not fetch')
      return (full ??= rowLogits(logits, row))
    }
    const candidates = { ids: top.ids, logits: top.logits, logitOf: (id: number) => fullRow()[id]! }
    const token =
      sampleCandidates(candidates, sampling, state.rng, state.counts) ??
      (logits ? sampleToken(fullRow(), sampling, state.rng, state.counts) : top.ids[0]!)
    state.counts.set(token, (state.counts.get(token) ?? 0) + 1)
    state.lastSampled = token
    return token
  }

  #state(item: StepItem): SequenceState {
    let state = this.#sequences.get(item.seqId)
    if (!state) {
      state = {
        media: null,
        length: 0,
        past: new Map(),
        rng: createRng(item.seed),
        counts: new Map(),
        lastSampled: null,
      }
      this.#sequences.set(item.seqId, state)
    }
    return state
  }

  /** A zero-length past: symbolic dims resolve to 0 except the batch (contract §3, step 4). */
  #emptyCache(
    type: 'float32' | 'float16' | 'int64' | 'bool',
    shape: readonly (number | string)[],
  ): Tensor {
    const dims = shape.map((d, i) => (i === 0 ? 1 : typeof d === 'number' ? d : 0))
    const data = type === 'float16' ? new Uint16Array(0) : new Float32Array(0)
    return this.#runtime.tensor(type, data, dims)
  }

  #int64(values: number[], dims: number[]): Tensor {
    return this.#runtime.tensor(
      'int64',
      BigInt64Array.from(values, (v) => BigInt(v)),
      dims,
    )
  }

  #kvTokens(): number {
    let total = this.#batch?.heldTokens ?? 0
    for (const state of this.#sequences.values()) if (state.past.size > 0) total += state.length
    return total
  }

  async #timed<T>(run: () => Promise<T>): Promise<T> {
    const started = performance.now()
    try {
      return await run()
    } finally {
      this.#runMs += performance.now() - started
    }
  }
}

/**
 * The token a decode item feeds: its own, or the one this runner sampled last for the sequence (the engine
 * sends the next step before it has seen that token). `null` when there is none: the step that was to
 * sample it failed, and the engine, which sent this one before it knew, has failed the sequence and throws
 * its answer away. Skipping it keeps that failure from taking this step's other sequences with it.
 */
function decodeToken(item: StepItem, state: SequenceState): number | null {
  return item.tokens[0] ?? state.lastSampled
}

/** Disposes the step's own input tensors (not the caches, which the batch or the sequence owns). */
function disposeInputs(feeds: Record<string, Tensor>): void {
  for (const name of ['inputs_embeds', 'per_layer_inputs']) feeds[name]?.dispose()
}
