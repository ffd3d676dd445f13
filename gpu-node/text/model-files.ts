/**
 * @module
 * Reads the JSON and Jinja files of a Hugging Face model folder that the text layer needs
 * (tokenizer.json, tokenizer_config.json, generation_config.json, config.json, chat_template.*), with
 * errors that name the file, so a half-copied model folder fails at startup with a readable message.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** A parsed JSON object (top level of a config file). */
export type JsonObject = Record<string, unknown>

/** The model folder files that describe tokens and the chat format. */
export interface ModelTextFiles {
  dir: string
  tokenizer: JsonObject
  tokenizerConfig: JsonObject
  /** Absent in base-model exports; the special ids then come from config.json. */
  generationConfig: JsonObject | undefined
  config: JsonObject | undefined
  chatTemplate: string
}

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new Error(`Cannot read ${path}: ${(error as Error).message}`, { cause: error })
  }
}

async function readJson(dir: string, name: string): Promise<JsonObject | undefined> {
  const path = join(dir, name)
  const text = await readText(path)
  if (text === undefined) return undefined
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new Error(`Cannot parse ${path}: ${(error as Error).message}`, { cause: error })
  }
  if (!isObject(value)) throw new Error(`${path} must hold a JSON object`)
  return value
}

async function readRequiredJson(dir: string, name: string): Promise<JsonObject> {
  const value = await readJson(dir, name)
  if (value === undefined) throw new Error(`Missing ${join(dir, name)} (model folder ${dir})`)
  return value
}

/** `chat_template` is a string, or a list of named templates (`[{ name: 'default', template }]`). */
function pickTemplate(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (!Array.isArray(value)) return undefined
  const named = value.find((entry) => isObject(entry) && entry.name === 'default') as unknown
  return isObject(named) && typeof named.template === 'string' ? named.template : undefined
}

/**
 * Finds the chat template. A standalone `chat_template.jinja` (or `chat_template.json`) wins over the
 * `chat_template` key in tokenizer_config.json, as in transformers' `from_pretrained`, which saves new
 * exports that way and lets the file override the key.
 */
async function readChatTemplate(dir: string, tokenizerConfig: JsonObject): Promise<string> {
  const jinja = await readText(join(dir, 'chat_template.jinja'))
  if (jinja !== undefined) return jinja
  const json = await readJson(dir, 'chat_template.json')
  const fromJson = pickTemplate(json?.chat_template)
  if (fromJson !== undefined) return fromJson
  const fromConfig = pickTemplate(tokenizerConfig.chat_template)
  if (fromConfig !== undefined) return fromConfig
  throw new Error(
    `No chat template in ${dir}: expected chat_template.jinja, chat_template.json or a ` +
      '"chat_template" key in tokenizer_config.json',
  )
}

/**
 * Reads every text-side file of a model folder.
 *
 * @example
 * const files = await readModelTextFiles('/models/gemma-3n-e2b-it')
 */
export async function readModelTextFiles(dir: string): Promise<ModelTextFiles> {
  const [tokenizer, tokenizerConfig, generationConfig, config] = await Promise.all([
    readRequiredJson(dir, 'tokenizer.json'),
    readRequiredJson(dir, 'tokenizer_config.json'),
    readJson(dir, 'generation_config.json'),
    readJson(dir, 'config.json'),
  ])
  const chatTemplate = await readChatTemplate(dir, tokenizerConfig)
  return { dir, tokenizer, tokenizerConfig, generationConfig, config, chatTemplate }
}
