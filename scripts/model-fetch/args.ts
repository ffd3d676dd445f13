/**
 * @module
 * Command line and environment of `npm run model:fetch`, validated before anything touches the network.
 */
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { FetchError } from './errors.ts'

export const DEFAULT_REPO = 'onnx-community/gemma-3n-E2B-it-ONNX'
export const DEFAULT_ENDPOINT = 'https://huggingface.co'

export const USAGE = `Usage: npm run model:fetch -- [options]

Downloads the Gemma 3n ONNX export from the Hugging Face hub: only the files of the chosen variant,
resumable, checked against the hub's sizes and SHA-256, published atomically, then checked as the GPU
node will check it.

  --dtype SPEC     q4 | q4f16 | q8 | fp16 | fp32 | int8 | uint8 | bnb4, or per session:
                   decoder_model_merged=q4,embed_tokens=q8 (default: the repo's config, else
                   embed_tokens q8, decoder q4, vision fp16, audio q8 where present)
  --dir DIR        target folder (default: .cache/models/<repo name> in this checkout)
  --repo REPO      hub repo (default: ${DEFAULT_REPO})
  --revision REV   branch, tag or commit (default: main)
  --text-only      skip the vision and audio encoders
  --no-load-check  check files and config only; do not open the sessions on CPU afterwards
  -h, --help       this text

Environment: HF_ENDPOINT (default ${DEFAULT_ENDPOINT}), HF_TOKEN (for gated or private repos).`

export interface CliOptions {
  help: boolean
  dtype?: string
  dir: string
  repo: string
  revision: string
  textOnly: boolean
  loadCheck: boolean
  endpoint: string
  token?: string
}

/**
 * @param root the checkout, where the default folder goes
 * @param cwd where a relative `--dir` starts (npm's INIT_CWD: the folder `npm run` was typed in)
 * @throws FetchError for unknown options or malformed values
 * @example parseCli(['--dtype', 'q4'], process.env, repoRoot, process.cwd())
 */
export function parseCli(
  argv: string[],
  env: NodeJS.ProcessEnv,
  root: string,
  cwd: string,
): CliOptions {
  let values
  try {
    ;({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        dtype: { type: 'string' },
        dir: { type: 'string' },
        repo: { type: 'string' },
        revision: { type: 'string' },
        'text-only': { type: 'boolean' },
        'no-load-check': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (error) {
    throw new FetchError(`${(error as Error).message}\n\n${USAGE}`)
  }
  const repo = values.repo?.trim() || DEFAULT_REPO
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo)) {
    throw new FetchError(`--repo ${repo} is not of the form owner/name.`)
  }
  const endpoint = env.HF_ENDPOINT?.trim() || DEFAULT_ENDPOINT
  if (!URL.canParse(endpoint) || !/^https?:$/.test(new URL(endpoint).protocol)) {
    throw new FetchError(`HF_ENDPOINT=${endpoint} is not an http(s) URL.`)
  }
  const name = repo.split('/')[1]!
  return {
    help: values.help ?? false,
    dtype: values.dtype?.trim() || undefined,
    dir: values.dir?.trim()
      ? resolve(cwd, values.dir.trim())
      : resolve(root, '.cache', 'models', name),
    repo,
    revision: values.revision?.trim() || 'main',
    textOnly: values['text-only'] ?? false,
    loadCheck: !(values['no-load-check'] ?? false),
    endpoint,
    token: env.HF_TOKEN?.trim() || undefined,
  }
}
