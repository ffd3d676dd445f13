/**
 * @module
 * Browser-side code (part of `/playground/app.js`): attachments as chat content parts. Images become
 * `image_url` parts with a `data:` URL; audio files (.wav/.mp3) and microphone recordings become
 * `input_audio` parts. A recording (MediaRecorder gives WebM/Opus or MP4/AAC, which the API does not take)
 * is decoded with Web Audio into a 16 kHz context, mixed to mono and written as 16-bit PCM WAV here in the
 * page, so the clip is small and already in the model's sample rate.
 */
import { CHAT_LIMITS } from '../../shared/chat-request.ts'
import { MEDIA_LIMITS } from '../media/media-limits.ts'

/** An image's bytes grow by a third as base64, and the whole request body is capped (the rest: text). */
const MAX_IMAGE_BYTES = Math.min(
  MEDIA_LIMITS.maxImageBytes,
  Math.floor((CHAT_LIMITS.maxBodyBytes * 3) / 4) - 256 * 1024,
)

export const CLIENT_MEDIA = String.raw`
const RECORD_SAMPLE_RATE = 16000
const MAX_RECORD_SECONDS = 30 // the API's per-clip limit
// Refused before reading, rather than after a long upload: the API's sizes, and for images also what a
// base64 data: URL can carry inside the request body's limit.
const MAX_IMAGE_BYTES = ${MAX_IMAGE_BYTES}
const MAX_AUDIO_BYTES = ${MEDIA_LIMITS.maxAudioBytes}

function refuseLarger(file, limit, what) {
  if (file.size > limit) {
    throw new Error(file.name + ' is ' + formatBytes(file.size) + '; the API takes ' + what + ' up to ' + formatBytes(limit) + '.')
  }
}

function readAsDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader()
    reader.onload = () => resolve(reader.result)
    reader.onerror = () => reject(reader.error)
    reader.readAsDataURL(blob)
  })
}

function formatBytes(bytes) {
  return bytes < 1024 * 1024 ? Math.ceil(bytes / 1024) + ' KB' : (bytes / 1048576).toFixed(1) + ' MB'
}

async function imageAttachment(file) {
  if (!file.type.startsWith('image/')) throw new Error(file.name + ' is not an image.')
  refuseLarger(file, MAX_IMAGE_BYTES, 'images')
  const url = await readAsDataUrl(file)
  return {
    kind: 'image',
    label: file.name + ' (' + formatBytes(file.size) + ')',
    preview: url,
    part: { type: 'image_url', image_url: { url } },
  }
}

function audioFormat(file) {
  if (/\.wav$/i.test(file.name) || /wav/.test(file.type)) return 'wav'
  if (/\.mp3$/i.test(file.name) || file.type === 'audio/mpeg') return 'mp3'
  return null
}

async function audioFileAttachment(file) {
  const format = audioFormat(file)
  if (!format) throw new Error(file.name + ': audio must be a .wav or .mp3 file.')
  refuseLarger(file, MAX_AUDIO_BYTES, 'audio files')
  const url = await readAsDataUrl(file)
  return {
    kind: 'audio',
    label: file.name + ' (' + formatBytes(file.size) + ')',
    part: { type: 'input_audio', input_audio: { data: url.slice(url.indexOf(',') + 1), format } },
  }
}

/** Mono 16-bit PCM WAV: a 44-byte RIFF header, then little-endian samples. */
function encodeWav(samples, sampleRate) {
  const view = new DataView(new ArrayBuffer(44 + samples.length * 2))
  const ascii = (offset, text) => [...text].forEach((ch, i) => view.setUint8(offset + i, ch.charCodeAt(0)))
  ascii(0, 'RIFF')
  view.setUint32(4, 36 + samples.length * 2, true)
  ascii(8, 'WAVE')
  ascii(12, 'fmt ')
  view.setUint32(16, 16, true) // fmt chunk size
  view.setUint16(20, 1, true) // PCM
  view.setUint16(22, 1, true) // channels
  view.setUint32(24, sampleRate, true)
  view.setUint32(28, sampleRate * 2, true) // byte rate
  view.setUint16(32, 2, true) // block align
  view.setUint16(34, 16, true) // bits per sample
  ascii(36, 'data')
  view.setUint32(40, samples.length * 2, true)
  samples.forEach((s, i) => {
    const clamped = Math.max(-1, Math.min(1, s))
    view.setInt16(44 + i * 2, clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff, true)
  })
  return new Uint8Array(view.buffer)
}

function bytesToBase64(bytes) {
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  }
  return btoa(binary)
}

/** Decodes a recording, resampled by Web Audio to 16 kHz, and averages its channels. */
async function recordingToWav(blob) {
  const context = new OfflineAudioContext(1, 1, RECORD_SAMPLE_RATE)
  const decoded = await context.decodeAudioData(await blob.arrayBuffer())
  const mono = new Float32Array(decoded.length)
  for (let c = 0; c < decoded.numberOfChannels; c++) {
    decoded.getChannelData(c).forEach((s, i) => (mono[i] += s / decoded.numberOfChannels))
  }
  return { wav: encodeWav(mono, decoded.sampleRate), seconds: decoded.duration }
}

/**
 * Starts recording from the microphone. Returns stop(), which resolves with the attachment; the
 * recording also stops by itself at the per-clip limit (onLimit is called then).
 */
async function startRecording(onLimit) {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true })
  const recorder = new MediaRecorder(stream)
  const chunks = []
  recorder.ondataavailable = (event) => chunks.push(event.data)
  const stopped = new Promise((resolve) => {
    recorder.onstop = () => {
      stream.getTracks().forEach((track) => track.stop())
      resolve(new Blob(chunks, { type: recorder.mimeType }))
    }
  })
  const timer = setTimeout(onLimit, MAX_RECORD_SECONDS * 1000)
  recorder.start()
  return {
    async stop() {
      clearTimeout(timer)
      if (recorder.state !== 'inactive') recorder.stop()
      const { wav, seconds } = await recordingToWav(await stopped)
      return {
        kind: 'audio',
        label: 'recording.wav (' + seconds.toFixed(1) + ' s)',
        part: { type: 'input_audio', input_audio: { data: bytesToBase64(wav), format: 'wav' } },
      }
    },
  }
}
`
