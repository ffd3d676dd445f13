/**
 * @module
 * Reads the WAV files the edge forwards: RIFF/WAVE, mono, at the feature extractor's sampling rate, as
 * 16-bit PCM or 32-bit IEEE float (also inside WAVE_FORMAT_EXTENSIBLE). The edge decodes, mixes and
 * resamples whatever the client sent; this parser refuses anything else with a message that says what the
 * file holds, rather than guessing. Format reference: Microsoft's RIFF/WAVE and WAVEFORMATEXTENSIBLE docs
 * (https://learn.microsoft.com/en-us/windows/win32/api/mmreg/ns-mmreg-waveformatextensible).
 */
import { MediaInputError } from './media-input-error.ts'

const FORMAT_PCM = 1
const FORMAT_FLOAT = 3
const FORMAT_EXTENSIBLE = 0xfffe

interface WavFormat {
  format: number
  channels: number
  sampleRate: number
  bitsPerSample: number
}

const fail = (message: string): never => {
  throw new MediaInputError('audio', message)
}

/**
 * Decodes a mono WAV at `sampleRate` to samples in [-1, 1] (PCM is divided by 32768).
 * @throws MediaInputError on a broken header, another format, rate or channel count, or no samples
 * @example const pcm = decodeWav(bytes, 16_000) // Float32Array
 */
export function decodeWav(bytes: Uint8Array, sampleRate: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const tag = (offset: number) => String.fromCharCode(...bytes.subarray(offset, offset + 4))
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') {
    fail('The audio is not a RIFF/WAVE file.')
  }
  let format: WavFormat | undefined
  let offset = 12
  while (offset + 8 <= bytes.length) {
    const id = tag(offset)
    const declared = view.getUint32(offset + 4, true)
    const start = offset + 8
    // Streamed WAVs leave the data size unset (0xFFFFFFFF) or too large: read what is there.
    const size = Math.min(declared, bytes.length - start)
    if (id === 'fmt ') format = readFormat(view, start, size)
    if (id === 'data') {
      if (!format) return fail('The WAV file has its data chunk before its fmt chunk.')
      checkFormat(format, sampleRate)
      return readSamples(view, start, size, format)
    }
    offset = start + size + (size & 1) // chunks are padded to an even size
  }
  return fail('The WAV file has no data chunk.')
}

function readFormat(view: DataView, start: number, size: number): WavFormat {
  if (size < 16) fail('The WAV fmt chunk is truncated.')
  let format = view.getUint16(start, true)
  if (format === FORMAT_EXTENSIBLE) {
    // The sub-format GUID starts 24 bytes into the chunk; its first two bytes are the format code.
    if (size < 40) fail('The WAV extensible fmt chunk is truncated.')
    format = view.getUint16(start + 24, true)
  }
  return {
    format,
    channels: view.getUint16(start + 2, true),
    sampleRate: view.getUint32(start + 4, true),
    bitsPerSample: view.getUint16(start + 14, true),
  }
}

function checkFormat(f: WavFormat, sampleRate: number): void {
  const pcm16 = f.format === FORMAT_PCM && f.bitsPerSample === 16
  const float32 = f.format === FORMAT_FLOAT && f.bitsPerSample === 32
  if (!pcm16 && !float32) {
    fail(
      `The WAV file holds ${f.bitsPerSample}-bit ${f.format === FORMAT_FLOAT ? 'float' : `format ${f.format}`} samples; ` +
        'the node takes 16-bit PCM or 32-bit float.',
    )
  }
  if (f.channels !== 1) fail(`The WAV file has ${f.channels} channels; the node takes mono.`)
  if (f.sampleRate !== sampleRate) {
    fail(`The WAV file is sampled at ${f.sampleRate} Hz; the node takes ${sampleRate} Hz.`)
  }
}

function readSamples(view: DataView, start: number, size: number, f: WavFormat): Float32Array {
  const width = f.bitsPerSample / 8
  const count = Math.floor(size / width)
  if (count === 0) fail('The WAV file holds no samples.')
  const out = new Float32Array(count)
  if (f.format === FORMAT_PCM) {
    for (let i = 0; i < count; i++) out[i] = view.getInt16(start + i * 2, true) / 32768
    return out
  }
  for (let i = 0; i < count; i++) {
    const v = view.getFloat32(start + i * 4, true)
    if (!Number.isFinite(v)) fail(`The WAV file has a non-finite sample at index ${i}.`)
    out[i] = v
  }
  return out
}
