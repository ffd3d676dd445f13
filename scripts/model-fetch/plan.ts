/**
 * @module
 * Which files of the repo a variant needs (gemma3n-contract.md §1): the top-level config, tokenizer and
 * processor JSONs plus `chat_template.jinja`, then per session `onnx/<session><suffix>.onnx` with every
 * external data chunk the tree lists (`.onnx_data`, `.onnx_data_1`, …). The dtype per session comes from
 * `--dtype`, else config.json's `transformers.js_config.dtype`, else the maintainer's recommended launch
 * settings (transformers.js PR #1348), falling back to the smallest variant the repo has.
 */
import type { JsonObject, SessionName } from '../../gpu-node/model/model-folder.ts'
import { DTYPE_SUFFIXES, SESSION_NAMES, parseDtypeSpec } from '../../gpu-node/model/model-folder.ts'
import { FetchError } from './errors.ts'
import type { TreeFile } from './hub-client.ts'

/** The sessions the GPU node's text path loads; `--text-only` fetches just these. */
export const TEXT_SESSIONS: readonly SessionName[] = ['embed_tokens', 'decoder_model_merged']

/** Recommended dtype first, then the others from small to large (q4 weights are about 1/8 of fp32). */
const DEFAULT_ORDER: Record<SessionName, string[]> = {
  embed_tokens: ['q8', 'q4', 'q4f16', 'fp16', 'fp32', 'int8', 'uint8', 'bnb4'],
  decoder_model_merged: ['q4', 'q4f16', 'q8', 'fp16', 'fp32', 'int8', 'uint8', 'bnb4'],
  vision_encoder: ['fp16', 'q8', 'q4', 'q4f16', 'fp32', 'int8', 'uint8', 'bnb4'],
  audio_encoder: ['q8', 'q4', 'q4f16', 'fp16', 'fp32', 'int8', 'uint8', 'bnb4'],
}

/** Top-level files every variant needs: configs, tokenizer, processor, chat template. */
export function metadataFiles(tree: TreeFile[]): TreeFile[] {
  return tree.filter((f) => !f.path.includes('/') && /\.(json|jinja)$/.test(f.path))
}

/** The variants (dtypes) the repo has, per session. */
export function repoVariants(tree: TreeFile[]): Record<SessionName, string[]> {
  const paths = new Set(tree.map((f) => f.path))
  const variants = {} as Record<SessionName, string[]>
  for (const session of SESSION_NAMES) {
    variants[session] = Object.entries(DTYPE_SUFFIXES)
      .filter(([, suffix]) => paths.has(`onnx/${session}${suffix}.onnx`))
      .map(([dtype]) => dtype)
  }
  return variants
}

export interface WeightPlan {
  /** The dtype chosen per fetched session. */
  dtypes: Partial<Record<SessionName, string>>
  files: TreeFile[]
}

/**
 * Picks each session's variant and lists its files.
 * @param spec `--dtype` (`q4`, or `decoder_model_merged=q4,embed_tokens=q8`), else config's dtype
 * @throws FetchError naming the valid dtypes and the variants the repo has
 * @example planWeights(tree, 'q4', TEXT_SESSIONS)
 */
export function planWeights(
  tree: TreeFile[],
  spec: string | JsonObject | undefined,
  sessions: readonly SessionName[],
): WeightPlan {
  const variants = repoVariants(tree)
  const have = describeVariants(variants)
  if (variants.embed_tokens.length === 0 || variants.decoder_model_merged.length === 0) {
    throw new FetchError(
      `The repo has no onnx/embed_tokens*.onnx or onnx/decoder_model_merged*.onnx: it is not an ONNX ` +
        `export of Gemma 3n in the onnx-community layout. ${have}`,
    )
  }
  let requested: Record<string, string>
  try {
    requested = parseDtypeSpec(spec)
  } catch (error) {
    throw new FetchError(`${(error as Error).message} ${have}`)
  }
  const dtypes: Partial<Record<SessionName, string>> = {}
  const missing: string[] = []
  for (const session of sessions) {
    const want = requested[session] ?? requested['*']
    const dtype = want ?? DEFAULT_ORDER[session].find((d) => variants[session].includes(d))
    if (dtype && variants[session].includes(dtype)) dtypes[session] = dtype
    else if (want) missing.push(`${session} in ${want}`)
    // No variant at all of an encoder: the text path still works, so fetch what exists.
    else if (TEXT_SESSIONS.includes(session)) missing.push(session)
  }
  if (missing.length > 0) {
    throw new FetchError(
      `The repo has no ${missing.join(', ')}. ${have} ` +
        'Pick one with --dtype, per session if needed: --dtype decoder_model_merged=q4,embed_tokens=q8.',
    )
  }
  const files: TreeFile[] = []
  for (const [session, dtype] of Object.entries(dtypes)) {
    const stem = `onnx/${session}${DTYPE_SUFFIXES[dtype]}.onnx`
    files.push(
      ...tree
        .filter(
          (f) => f.path === stem || f.path === `${stem}_data` || f.path.startsWith(`${stem}_data_`),
        )
        .sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true })),
    )
  }
  return { dtypes, files }
}

/** `GEMMA_DTYPE` for the chosen variants: one name when all agree, else per session. */
export function dtypeSetting(dtypes: Partial<Record<SessionName, string>>): string {
  const values = Object.values(dtypes)
  if (values.length > 0 && values.every((d) => d === values[0])) return values[0]!
  return Object.entries(dtypes)
    .map(([session, dtype]) => `${session}=${dtype}`)
    .join(',')
}

function describeVariants(variants: Record<SessionName, string[]>): string {
  const lines = Object.entries(variants).map(
    ([session, list]) => `${session}: ${list.length ? list.join(', ') : 'none'}`,
  )
  return `Valid dtypes: ${Object.keys(DTYPE_SUFFIXES).join(', ')}. The repo has ${lines.join('; ')}.`
}
