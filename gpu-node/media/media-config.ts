/**
 * @module
 * Reads a model folder's media settings once at load: preprocessor_config.json (one file for the image
 * processor and the audio feature extractor, as the Gemma 3n export ships it) and processor_config.json
 * (soft tokens per image and per clip). Errors name the file.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { JsonObject } from '../text/model-files.ts'
import { audioFeatureConfig } from './audio-features.ts'
import type { AudioFeatureConfig } from './audio-features.ts'
import { imagePreprocessConfig } from './image-preprocess.ts'
import type { ImagePreprocessConfig } from './image-preprocess.ts'
import { mediaPromptConfig } from './prompt-expansion.ts'
import type { MediaPromptConfig } from './prompt-expansion.ts'

export interface MediaConfig {
  image: ImagePreprocessConfig
  audio: AudioFeatureConfig
  prompt: MediaPromptConfig
}

async function readJsonFile(dir: string, name: string): Promise<JsonObject> {
  const path = join(dir, name)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    throw new Error(`Cannot read ${path}: ${(error as Error).message}`, { cause: error })
  }
  try {
    const value: unknown = JSON.parse(text)
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error('not a JSON object')
    }
    return value as JsonObject
  } catch (error) {
    throw new Error(`Cannot parse ${path}: ${(error as Error).message}`, { cause: error })
  }
}

/**
 * Reads and checks the media settings of a model folder.
 * @example const media = await readMediaConfig('/models/gemma-3n-E2B-it-ONNX')
 */
export async function readMediaConfig(dir: string): Promise<MediaConfig> {
  const [preprocessor, processor] = await Promise.all([
    readJsonFile(dir, 'preprocessor_config.json'),
    readJsonFile(dir, 'processor_config.json'),
  ])
  return {
    image: imagePreprocessConfig(preprocessor),
    audio: audioFeatureConfig(preprocessor),
    prompt: mediaPromptConfig(processor),
  }
}
