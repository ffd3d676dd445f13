/**
 * @module
 * `npm run gpu-node`: one GPU node. Prints a banner (labelling a random-weight contract model as such),
 * logs one JSON line per event, and drains on SIGINT/SIGTERM.
 */
import { ConfigError, loadConfig } from './config.ts'
import { ContractMismatchError } from './model/contract-check.ts'
import { startNode } from './node-server.ts'

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
      info.contractModel ? `  NOTE:    ${info.contractModel.note}` : '',
      config.secretGenerated ? `  GPU_NODE_SECRET was unset; this run uses: ${config.secret}` : '',
    ]
      .filter(Boolean)
      .join('\n'),
  )
  let stopping = false
  const stop = async (signal: string): Promise<void> => {
    if (stopping) {
      console.log(`${signal} again: stopping now`)
      process.exit(1)
    }
    stopping = true
    console.log(`${signal}: draining (up to ${config.drainMs / 1000} s), new requests get 503`)
    await node.close(config.drainMs)
    process.exit(0)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
} catch (error) {
  if (
    error instanceof ConfigError ||
    error instanceof ContractMismatchError ||
    (error as Error).name === 'ModelFolderError' ||
    (error as Error).name === 'ContractMismatchError'
  ) {
    console.error(`gemma-edge GPU node cannot start:\n${(error as Error).message}`)
  } else {
    console.error(error)
  }
  process.exit(1)
}
