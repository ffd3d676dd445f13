/**
 * @module
 * Assembles a GPU node from its configuration: model folder (the built-in contract model when none is
 * configured), tokenizer, runner thread, engine and HTTP app, listening on the configured address. Used by
 * `main.ts` and by tests that need a real node in-process.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { serve } from '@hono/node-server'
import type { ServerType } from '@hono/node-server'
import { MODEL_ID } from '../shared/protocol.ts'
import type { NodeHealth, NodeHeartbeat } from '../shared/protocol.ts'
import type { NodeConfig } from './config.ts'
import { ensureContractModel } from './contract-model/cache.ts'
import { Engine } from './engine/engine.ts'
import { startHeartbeats } from './heartbeat.ts'
import { createApp } from './http/app.ts'
import { NodeMetrics } from './http/metrics.ts'
import { generationDefaults } from './http/prepare-generation.ts'
import { readMediaConfig } from './media/media-config.ts'
import { ModelFolderError, readModelFolder } from './model/model-folder.ts'
import { startRunnerThread } from './model/remote-runner.ts'
import type { ModelInfo } from './model/runner-types.ts'
import { ChatTokenizer } from './text/chat-tokenizer.ts'
import { promptEncoder, startEncoderThread } from './text/prompt-encoder.ts'

export const NODE_VERSION = '0.1.0'

export interface RunningNode {
  url: string
  info: ModelInfo
  /** The context this node serves: the model's, or less when the KV budget is smaller. */
  contextLength: number
  engine: Engine
  /** The tokens that end a generation (`<eos>`, `<end_of_turn>`), for the banner. */
  stopTokens: string[]
  /** What the operator should know about the folder (e.g. no generation_config.json). */
  warnings: string[]
  /**
   * Drains (new requests get 503 + retry-after, running ones finish for up to `drainMs`), then stops
   * listening and stops the runner thread.
   */
  close(drainMs?: number): Promise<void>
}

export async function startNode(
  config: NodeConfig,
  log: (line: Record<string, unknown>) => void = (line) => console.log(JSON.stringify(line)),
): Promise<RunningNode> {
  const modelDir = config.modelDir ?? (await ensureContractModel())
  // Fail fast, in plain words, on a folder that is not a model (before starting the runner thread).
  await readModelFolder(modelDir, config.runner.dtype)
  const loading = [
    ChatTokenizer.load(modelDir).catch((error: Error) => {
      throw new ModelFolderError(error.message)
    }),
    startRunnerThread({ modelDir, ...config.runner }),
    readGenerationConfig(modelDir),
    // A text-only folder has no processor configs: image and audio parts are then refused by name.
    readMediaConfig(modelDir).catch(() => null),
    startEncoderThread(modelDir, (error) =>
      log({
        level: 'error',
        msg: 'the prompt encoder thread stopped: long prompts are encoded on the main thread from now on',
        error: String(error),
      }),
    ).catch((error: Error) => {
      throw new ModelFolderError(error.message)
    }),
  ] as const
  const loaded = await Promise.allSettled(loading)
  const threads = [loaded[1], loaded[4]].flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
  // The threads that did start would keep the process (or a test's worker) alive: stop them first.
  const stopThreads = () => Promise.all(threads.map((thread) => thread.close().catch(() => {})))
  const failed = loaded.find((result) => result.status === 'rejected')
  if (failed) {
    await stopThreads()
    throw failed.reason
  }
  const [tokenizer, runner, generationConfig, media, encoderThread] = await Promise.all(loading)
  const encoder = promptEncoder(encoderThread, tokenizer)
  const info = runner.info
  // The KV budget bounds the context this node serves (like vLLM's max_model_len): a request that fits
  // the context always fits the cache, so admission can always make progress.
  const kvBudgetTokens = Math.floor(config.kvBudgetBytes / info.kvBytesPerToken)
  const contextLength = Math.min(info.contextLength, kvBudgetTokens)
  // Created first so the engine can report to it; it reads the engine's stats only when scraped.
  const metrics: NodeMetrics = new NodeMetrics(() => engine.stats())
  const engine = new Engine(
    runner,
    {
      decode: (ids) => tokenizer.decode(ids, { skipSpecialTokens: true }),
      eosIds: tokenizer.special.eos,
    },
    { ...config, kvBudgetTokens, paddedBatch: info.batchedDecode },
    metrics,
  )
  const dtype = Object.values(info.dtypes).join('/')
  const health = (): NodeHealth => {
    const stats = engine.stats()
    return {
      status: engine.draining ? 'draining' : 'ok',
      model: {
        id: MODEL_ID,
        contract_model: info.contractModel !== null,
        note: info.contractModel?.note ?? null,
        dtype,
        device: info.device,
        runtime: info.runtime,
      },
      load: { running: stats.running, queued: stats.queued, max_running: stats.maxRunning },
      version: NODE_VERSION,
    }
  }
  const app = createApp({
    engine,
    tokenizer,
    encoder,
    contextLength,
    defaults: generationDefaults(generationConfig ?? {}),
    media,
    encoders: { vision: info.vision, audio: info.audio },
    modelId: MODEL_ID,
    systemFingerprint: `gemma-edge-${NODE_VERSION}-${dtype}-${info.device}`,
    keepAliveMs: config.keepAliveMs,
    secrets: config.secrets,
    metricsToken: config.metricsToken,
    health,
    metrics: () => metrics.render(),
    log,
  })
  const server = await listen(app.fetch, config.host, config.port).catch(async (error: unknown) => {
    await stopThreads()
    throw error
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  const url = `http://${config.host}:${port}`
  const beat = config.heartbeat
  // With GPU_NODE_PORT=0 (tests) the default public URL's port is only known now.
  const publicUrl = beat?.publicUrl.replace(/:0$/, `:${port}`) ?? url
  const heartbeats = beat
    ? startHeartbeats(
        beat,
        config.secrets[0]!,
        () => heartbeatOf(beat.nodeId, publicUrl, health(), engine),
        log,
      )
    : null
  // Without it the end-of-generation ids and sampling defaults come from config.json, which may name
  // fewer (Gemma's `<end_of_turn>` is only in generation_config.json): say so rather than run on quietly.
  const warnings = generationConfig
    ? [...info.warnings]
    : [
        ...info.warnings,
        'no generation_config.json: end-of-generation tokens and sampling defaults come from ' +
          'config.json (see `stops`); copy the file from the model repo if a turn should end there too',
      ]
  const stopTokens = tokenizer.special.eos.map((id) => tokenizer.decode([id]))
  let closing: Promise<void> | null = null
  return {
    url,
    info,
    contextLength,
    engine,
    stopTokens,
    warnings,
    async close(drainMs = 0) {
      if (closing) {
        // A second close (a second signal) cuts the drain short; the runner still closes only once,
        // as a process that exits while the runner thread is mid-teardown aborts natively.
        await engine.close()
        return closing
      }
      closing = (async () => {
        heartbeats?.stop()
        const drained = engine.drain(drainMs)
        // A last beat says `draining`, so the edge stops sending work before the node stops listening.
        await heartbeats?.beat()
        await drained
        await new Promise<void>((resolve) => server.close(() => resolve()))
        await Promise.all([runner.close(), encoder.close()])
      })()
      return closing
    },
  }
}

function heartbeatOf(
  nodeId: string,
  url: string,
  health: NodeHealth,
  engine: Engine,
): NodeHeartbeat {
  const stats = engine.stats()
  return {
    node_id: nodeId,
    url,
    max_running: health.load.max_running,
    running: health.load.running,
    queued: health.load.queued,
    free_kv_tokens: Math.max(0, stats.kvBudgetTokens - stats.kvTokens),
    model: {
      id: health.model.id,
      dtype: health.model.dtype,
      contract_model: health.model.contract_model,
    },
    version: health.version,
    status: health.status === 'draining' ? 'draining' : 'ok',
  }
}

function listen(
  fetch: (request: Request) => Response | Promise<Response>,
  hostname: string,
  port: number,
) {
  return new Promise<ServerType>((resolve, reject) => {
    const server = serve({ fetch, hostname, port }, () => resolve(server))
    server.once('error', reject)
  })
}

/** generation_config.json, `null` when the folder has none; a file that is not JSON stops the node. */
async function readGenerationConfig(dir: string): Promise<Record<string, unknown> | null> {
  let text: string
  try {
    text = await readFile(join(dir, 'generation_config.json'), 'utf8')
  } catch {
    return null
  }
  try {
    return JSON.parse(text) as Record<string, unknown>
  } catch (error) {
    throw new ModelFolderError(
      `generation_config.json is not valid JSON: ${(error as Error).message}`,
    )
  }
}
