/**
 * @module
 * `npm run gpu-node`: one GPU node. Prints a banner (labelling a random-weight contract model as such),
 * logs one JSON line per event, and drains on SIGINT/SIGTERM.
 */
import { loadConfig } from './config.ts'
import type { ModelInfo } from './model/runner-types.ts'
import { startNode } from './node-server.ts'

/**
 * Errors that explain a bad setting or model folder in plain words: shown as they are, without a stack.
 * Matched by name because errors raised in the runner thread arrive re-created with their original name.
 */
const EXPLAINED = new Set(['ConfigError', 'ContractMismatchError', 'ModelFolderError'])

/** The startup banner's words for `ModelInfo.promptLogits`. */
const PROMPT_LOGITS = {
  num_logits_to_keep: "logits of one position per prompt chunk (the decoder's num_logits_to_keep)",
  graph_rewritten: 'no logits computed for prompt chunks (lm_head input sliced at load)',
  computed:
    'logits computed for every prompt position (decoder graph not recognised; see GPU_NODE_PREFILL_CHUNK)',
} as const

/** The startup banner's words for `ModelInfo.samplingHead`. */
const SAMPLING_HEAD = {
  fused: 'top candidates computed in the decoder call (sampling head fused into its graph)',
  session:
    'top candidates computed by a session of its own, fed the logits every step (decoder graph not fusable)',
} as const

/** The startup banner's words for how decode steps run (the log says why a padding was refused). */
function decodeMode(info: ModelInfo): string {
  if (info.kvPadding)
    return `batched (one decoder call per step; shorter rows padded on the ${info.kvPadding})`
  if (!info.hasAttentionMask)
    return 'one sequence per decoder call (the decoder declares no attention_mask)'
  return 'one sequence per decoder call (no padding of a batch reproduced decoding alone; see the warning above)'
}

/**
 * The startup banner's words for where the KV cache lives: what an operator choosing between cuda and
 * webgpu needs to know (toolchain.md §5: onnxruntime-node hands CUDA outputs back to the host).
 */
function kvPlacement(device: string, batched: boolean): string {
  if (device === 'webgpu')
    return `in GPU buffers${batched ? '; joins and removals run on the device' : ''}`
  if (device === 'cuda')
    return 'copied to the host and back every step (GEMMA_DEVICE=webgpu keeps it on the GPU)'
  return 'in host memory, fed back without copies'
}

try {
  const config = loadConfig()
  if (!config.modelDir)
    console.log(
      'GEMMA_MODEL_DIR is unset: serving the built-in contract model (generated on first use).',
    )
  const node = await startNode(config)
  const { info } = node
  console.log(
    [
      `gemma-edge GPU node listening on ${node.url}`,
      `  model:   ${info.dir}`,
      `  dtype:   ${Object.entries(info.dtypes)
        .map(([s, d]) => `${s}=${d}`)
        .join(', ')}`,
      `  runtime: onnxruntime-${info.runtime} on ${info.device}`,
      `  decode:  ${decodeMode(info)}`,
      `  prompts: ${PROMPT_LOGITS[info.promptLogits]}`,
      `  stops:   ${node.stopTokens.join(', ')}`,
      `  KV:      ${kvPlacement(info.device, info.batchedDecode)}`,
      `  sampler: ${SAMPLING_HEAD[info.samplingHead]}${info.deferredSoftcap ? '; softcap applied to the candidates only' : ''}`,
      info.contractModel ? `  NOTE:    ${info.contractModel.note}` : '',
      ...node.warnings.map((warning) => `  WARNING: ${warning}`),
      config.secretGenerated
        ? `  GPU_NODE_SECRET was unset; this run uses: ${config.secrets[0]}`
        : '',
      config.heartbeat
        ? `  heartbeats: ${config.heartbeat.edgeUrl} as ${config.heartbeat.nodeId} (${config.heartbeat.publicUrl})`
        : '',
    ]
      .filter(Boolean)
      .join('\n'),
  )
  let stopping = false
  let forced = false
  const stop = async (signal: string): Promise<void> => {
    if (stopping) {
      // Now, but not by exiting under the runner thread: a process that exits while onnxruntime is
      // inside a session call, or while its thread tears down, aborts natively (SIGABRT). The drain is
      // cut short and the first stop exits once the runner has closed.
      console.log(`${signal} again: stopping now`)
      forced = true
      setTimeout(() => process.exit(1), 10_000).unref()
      await node.close(0).catch(() => undefined) // the first stop reports a failure to close
      return
    }
    stopping = true
    console.log(`${signal}: draining (up to ${config.drainMs / 1000} s), new requests get 503`)
    await node.close(config.drainMs)
    process.exit(forced ? 1 : 0)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
} catch (error) {
  const { code, address, port } = error as { code?: string; address?: string; port?: number }
  if (EXPLAINED.has((error as Error).name)) {
    console.error(`gemma-edge GPU node cannot start:\n${(error as Error).message}`)
  } else if (code === 'ENOTFOUND' || code === 'EADDRNOTAVAIL' || code === 'EAI_AGAIN') {
    const host = (error as { hostname?: string }).hostname ?? address ?? 'the host'
    console.error(
      `gemma-edge GPU node cannot start:\nGPU_NODE_HOST=${host} is not an address of this machine (${code}).`,
    )
  } else if (code === 'EADDRINUSE' || code === 'EACCES') {
    const why = code === 'EADDRINUSE' ? 'is in use' : 'may not be opened by this user'
    console.error(
      `gemma-edge GPU node cannot start:\n${address}:${port} ${why}; set GPU_NODE_HOST / GPU_NODE_PORT.`,
    )
  } else {
    console.error(error)
  }
  process.exit(1)
}
