/**
 * @module
 * Shapes one `input_audio` part: strict base64, the declared format checked against the bytes, decode,
 * mono mix, 16 kHz resample, 16-bit WAV. Clips over 30 s, clips shorter than one feature frame (32 ms) and
 * digital silence (every sample 0 at 16 bits: a muted microphone) are refused, before any token is reserved
 * for them.
 */
import { base64DecodedLength, decodeBase64 } from '../base64.ts'
import { MediaInputError } from '../media-error.ts'
import { MEDIA_LIMITS } from '../media-limits.ts'
import { decodeMp3 } from './mp3-decode.ts'
import { looksLikeMp3 } from './mp3-frames.ts'
import { mixToMono } from './pcm.ts'
import { resampleMono } from './resample.ts'
import { decodeWav, looksLikeWav } from './wav-decode.ts'
import { encodeWav16 } from './wav-encode.ts'

/**
 * Encoder delay and padding (MP3 adds up to ~2 frames) must not turn a 30 s recording into a refusal:
 * clips up to this much over the limit are accepted and cut to exactly 30 s, as the extractor would.
 */
const LENGTH_TOLERANCE_S = 0.25

export interface ShapedAudio {
  /** 16 kHz mono 16-bit PCM WAV. */
  wav: Uint8Array
  bytesIn: number
  seconds: number
}

/** Shapes base64 `data` declared as `format`; throws `MediaInputError` for anything it refuses. */
export async function shapeAudio(data: string, format: 'wav' | 'mp3'): Promise<ShapedAudio> {
  if (base64DecodedLength(data) > MEDIA_LIMITS.maxAudioBytes) {
    throw new MediaInputError(`the audio exceeds ${MEDIA_LIMITS.maxAudioBytes} bytes`)
  }
  const bytes = decodeBase64(data)
  const maxSeconds = MEDIA_LIMITS.maxAudioSeconds + LENGTH_TOLERANCE_S
  const isWav = looksLikeWav(bytes)
  if (format === 'wav' && !isWav) {
    throw new MediaInputError(
      looksLikeMp3(bytes) ? "format is 'wav' but the data is MP3" : 'the data is not a WAV file',
    )
  }
  if (format === 'mp3' && isWav) throw new MediaInputError("format is 'mp3' but the data is WAV")
  const decoded =
    format === 'wav' ? decodeWav(bytes, maxSeconds) : await decodeMp3(bytes, maxSeconds)
  const mono = mixToMono(decoded)
  if (mono.length === 0) throw new MediaInputError('the audio clip is empty')
  const seconds = mono.length / decoded.sampleRate
  if (seconds > maxSeconds)
    throw new MediaInputError(`the audio clip is longer than ${MEDIA_LIMITS.maxAudioSeconds} s`)
  if (seconds < MEDIA_LIMITS.minAudioSeconds) {
    const ms = (1000 * seconds).toFixed(1)
    throw new MediaInputError(
      `the audio clip is ${ms} ms long; at least ${1000 * MEDIA_LIMITS.minAudioSeconds} ms are needed`,
    )
  }
  if (isSilent(mono)) throw new MediaInputError('the audio clip is silent (every sample is 0)')
  const rate = MEDIA_LIMITS.audioSampleRate
  const resampled = resampleMono(mono, decoded.sampleRate, rate)
  const clipped = resampled.subarray(0, MEDIA_LIMITS.maxAudioSeconds * rate)
  return {
    wav: encodeWav16(clipped, rate),
    bytesIn: bytes.length,
    seconds: Math.min(seconds, MEDIA_LIMITS.maxAudioSeconds),
  }
}

/** Half a 16-bit step: quieter samples are written as 0 in the 16-bit WAV the node gets. */
const SILENCE = 0.5 / 32_768

/** Whether every sample would be 0 at 16 bits. */
function isSilent(pcm: Float32Array): boolean {
  for (const sample of pcm) if (Math.abs(sample) >= SILENCE) return false
  return true
}
