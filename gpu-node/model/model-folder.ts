/**
 * @module
 * Reads an onnx-community style Gemma 3n folder: its JSON configs and which ONNX file serves each session
 * for the requested dtype. Everything the folder states is read here, nothing is assumed
 * (gemma3n-contract.md §1). File naming follows transformers.js: `onnx/<session><suffix>.onnx` plus
 * `<same>.onnx_data[_N]` external data.
 */
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'

/** The four sessions of the export, keyed as transformers.js names them. */
export const SESSION_NAMES = [
  'embed_tokens',
  'decoder_model_merged',
  'vision_encoder',
  'audio_encoder',
] as const
export type SessionName = (typeof SESSION_NAMES)[number]

/** dtype -> file suffix (transformers.js utils/dtypes.js). */
export const DTYPE_SUFFIXES: Record<string, string> = {
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
  q4f16: '_q4f16',
  bnb4: '_bnb4',
}

/**
 * When nothing names a dtype, the first variant present in the folder wins, in this order: the
 * maintainer's recommended launch settings for Gemma 3n (transformers.js PR #1348) first, then smaller
 * before larger.
 */
const PREFERRED_DTYPES: Record<SessionName, string[]> = {
  embed_tokens: ['q8', 'fp16', 'fp32', 'q4', 'q4f16', 'int8', 'uint8', 'bnb4'],
  decoder_model_merged: ['q4', 'q4f16', 'q8', 'fp16', 'fp32', 'int8', 'uint8', 'bnb4'],
  vision_encoder: ['fp16', 'q8', 'fp32', 'q4', 'q4f16', 'int8', 'uint8', 'bnb4'],
  audio_encoder: ['q8', 'fp16', 'fp32', 'q4', 'q4f16', 'int8', 'uint8', 'bnb4'],
}

export type JsonObject = Record<string, unknown>

export interface SessionFile {
  session: SessionName
  dtype: string
  /** Absolute path of the `.onnx` file. */
  path: string
  /** File names (relative to `onnx/`) of its external data chunks, in order. */
  externalData: string[]
}

export interface ModelFolder {
  dir: string
  config: JsonObject
  textConfig: JsonObject
  generationConfig: JsonObject
  files: Record<SessionName, SessionFile | null>
  /** What the node will do without: an encoder present only in other dtypes than the one asked for. */
  warnings: string[]
}

/** What each encoder's absence turns off. */
const ENCODED: Partial<Record<SessionName, string>> = {
  vision_encoder: 'image parts are refused',
  audio_encoder: 'audio parts are refused',
}

/** A folder that is not a usable model: the message says what is wrong in plain words. */
export class ModelFolderError extends Error {
  override name = 'ModelFolderError'
}

/**
 * Reads the folder and picks a file per session.
 * @param dtype `undefined` (config's `transformers.js_config.dtype`, else the best variant present), one
 *   dtype for all sessions (`q4`), or per session (`decoder_model_merged=q4,embed_tokens=q8`).
 * @example const folder = await readModelFolder('/models/gemma-3n-E2B-it-ONNX', 'q4')
 */
export async function readModelFolder(dir: string, dtype?: string): Promise<ModelFolder> {
  const config = await readJson(dir, 'config.json', true)
  if (config.model_type !== 'gemma3n') {
    throw new ModelFolderError(
      `${join(dir, 'config.json')} has model_type ${JSON.stringify(config.model_type)}; gemma-edge serves "gemma3n" models.`,
    )
  }
  const textConfig = (config.text_config ?? config) as JsonObject
  const generationConfig = await readJson(dir, 'generation_config.json', false)
  const onnxFiles = await listOnnxDir(dir)
  const requested = parseDtypeSpec(dtype ?? configDtype(config))
  const files = {} as Record<SessionName, SessionFile | null>
  for (const session of SESSION_NAMES) {
    files[session] = pickFile(dir, session, requested[session] ?? requested['*'], onnxFiles)
  }
  const variantsOf = (session: SessionName) =>
    onnxFiles.filter((f) => f.startsWith(session) && f.endsWith('.onnx')).sort()
  for (const session of ['embed_tokens', 'decoder_model_merged'] as const) {
    if (!files[session]) {
      const want = requested[session] ?? requested['*']
      const present = variantsOf(session)
      throw new ModelFolderError(
        `The model folder ${dir} has no ${want ? `onnx/${session}${DTYPE_SUFFIXES[want] ?? ''}.onnx (dtype ${want})` : `onnx/${session}*.onnx`}. ` +
          (present.length
            ? `Variants present: ${present.join(', ')}.`
            : 'No variant of it is present.'),
      )
    }
  }
  // A dtype named for every session (`q4`) that an encoder lacks turns that input off; say so, as the
  // exports do not have every encoder in every dtype.
  const warnings: string[] = []
  for (const [session, effect] of Object.entries(ENCODED) as [SessionName, string][]) {
    const want = requested[session] ?? requested['*']
    const present = variantsOf(session)
    if (files[session] || !want || present.length === 0) continue
    const other = dtypeOfFile(session, present[0]!)
    warnings.push(
      `onnx/${session}${DTYPE_SUFFIXES[want]}.onnx (dtype ${want}) is missing, so ${effect}. ` +
        `Variants present: ${present.join(', ')}; name one for this session in the dtype setting, ` +
        `e.g. *=${want},${session}=${other}.`,
    )
  }
  return { dir, config, textConfig, generationConfig, files, warnings }
}

/** The dtype of `onnx/<session><suffix>.onnx`, by its suffix. */
function dtypeOfFile(session: SessionName, file: string): string {
  const suffix = file.slice(session.length, -'.onnx'.length)
  return Object.entries(DTYPE_SUFFIXES).find(([, s]) => s === suffix)?.[0] ?? suffix
}

/** `q4` -> `{'*': 'q4'}`; `a=q4,b=q8` -> per session. Unknown dtype names are refused with the list. */
export function parseDtypeSpec(spec: string | JsonObject | undefined): Record<string, string> {
  if (spec === undefined || spec === '') return {}
  const entries: [string, string][] =
    typeof spec === 'string'
      ? spec.includes('=')
        ? spec.split(',').map((pair) => pair.split('=').map((s) => s.trim()) as [string, string])
        : [['*', spec.trim()]]
      : Object.entries(spec).map(([k, v]) => [k, String(v)])
  for (const [key, value] of entries) {
    if (!(value in DTYPE_SUFFIXES)) {
      throw new ModelFolderError(
        `Unknown dtype "${value}"${key === '*' ? '' : ` for ${key}`}. Known: ${Object.keys(DTYPE_SUFFIXES).join(', ')}.`,
      )
    }
    if (key !== '*' && !(SESSION_NAMES as readonly string[]).includes(key)) {
      throw new ModelFolderError(`Unknown session "${key}" in the dtype setting.`)
    }
  }
  return Object.fromEntries(entries)
}

function configDtype(config: JsonObject): string | JsonObject | undefined {
  const tjs = config['transformers.js_config'] as JsonObject | undefined
  return tjs?.dtype as string | JsonObject | undefined
}

function pickFile(
  dir: string,
  session: SessionName,
  dtype: string | undefined,
  onnxFiles: string[],
): SessionFile | null {
  const candidates = dtype ? [dtype] : PREFERRED_DTYPES[session]
  for (const candidate of candidates) {
    const name = `${session}${DTYPE_SUFFIXES[candidate]}.onnx`
    if (!onnxFiles.includes(name)) continue
    const externalData = onnxFiles
      .filter((f) => f === `${name}_data` || f.startsWith(`${name}_data_`))
      .sort((a, b) => chunkIndex(a) - chunkIndex(b))
    return { session, dtype: candidate, path: join(dir, 'onnx', name), externalData }
  }
  return null
}

function chunkIndex(file: string): number {
  const match = /_data_(\d+)$/.exec(file)
  return match ? Number(match[1]) : 0
}

async function listOnnxDir(dir: string): Promise<string[]> {
  try {
    return await readdir(join(dir, 'onnx'))
  } catch {
    throw new ModelFolderError(`The model folder ${dir} has no onnx/ subfolder.`)
  }
}

async function readJson(dir: string, name: string, required: boolean): Promise<JsonObject> {
  const path = join(dir, name)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    if (!required) return {}
    throw new ModelFolderError(`The model folder ${dir} has no ${name}.`)
  }
  try {
    return JSON.parse(text) as JsonObject
  } catch (error) {
    throw new ModelFolderError(`${path} is not valid JSON: ${(error as Error).message}`)
  }
}
