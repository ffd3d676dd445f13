/**
 * @module
 * MP3 decoding with mpg123 (mpg123-decoder, WASM). The package compiles its module from an embedded
 * string, which workerd forbids, so the module comes from mpg123.wasm next to this file (extracted from
 * the installed package by scripts/extract-mpg123-wasm.ts) and is handed over through the package's
 * documented `MPEGDecoder.module` hook.
 */
import './worker-global-stub.ts'
import { MPEGDecoder } from 'mpg123-decoder'
import { MediaInputError } from '../media-error.ts'
import { probeMp3 } from './mp3-frames.ts'
import mpg123Wasm from './mpg123.wasm'
import type { DecodedAudio } from './pcm.ts'

;(MPEGDecoder as unknown as { module: WebAssembly.Module }).module = mpg123Wasm

/**
 * Decodes an MP3, refusing clips longer than `maxSeconds` from the frame headers, before decoding.
 * @example
 * const { channels, sampleRate } = await decodeMp3(bytes, 30.25)
 */
export async function decodeMp3(bytes: Uint8Array, maxSeconds: number): Promise<DecodedAudio> {
  const probe = probeMp3(bytes)
  if (probe.seconds > maxSeconds)
    throw new MediaInputError(`the audio clip is longer than ${Math.floor(maxSeconds)} s`)
  const decoder = new MPEGDecoder()
  try {
    await decoder.ready
    const result = decoder.decode(bytes)
    if (result.samplesDecoded === 0)
      throw new MediaInputError('the MP3 frames could not be decoded')
    return { channels: result.channelData, sampleRate: result.sampleRate }
  } catch (error) {
    if (error instanceof MediaInputError) throw error
    throw new MediaInputError('the MP3 data is corrupt', { cause: error })
  } finally {
    decoder.free()
  }
}
