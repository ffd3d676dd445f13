/**
 * @module
 * Decoded audio as the shaping steps pass it along, and the mono mix-down.
 */

export interface DecodedAudio {
  /** One Float32Array per channel, samples in [-1, 1]. */
  channels: Float32Array[]
  sampleRate: number
}

/** Averages the channels into one (the feature extractor takes mono, contract §7). */
export function mixToMono(audio: DecodedAudio): Float32Array {
  const [first, ...rest] = audio.channels
  if (!first) return new Float32Array(0)
  if (rest.length === 0) return first
  const mono = new Float32Array(first.length)
  const scale = 1 / audio.channels.length
  for (const channel of audio.channels) {
    const n = Math.min(mono.length, channel.length)
    for (let i = 0; i < n; i++) mono[i]! += channel[i]! * scale
  }
  return mono
}
