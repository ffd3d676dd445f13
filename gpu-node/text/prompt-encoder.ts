/**
 * @module
 * Prompt text to token ids, long prompts on a thread of their own. Encoding is synchronous and grows faster
 * than the text (Gemma's 262,400-token vocabulary on the 2-core VM: 3 ms for 3,000 characters, 15 ms for
 * 12,000, 250 ms for 60,000, and a QA run measured 1.6 s for a 30,000-word prompt). On the main thread,
 * which also runs the engine loop and writes every stream's tokens, a long prompt stalled every stream that
 * long, and held the response headers of the requests queued behind it past the edge's 10 s limit. Prompts
 * up to `INLINE_MAX_CHARS` are encoded in place, where a thread hop would cost more than the encoding.
 * The thread loads its own tokenizer from the folder (about 2 s and 270 MB for Gemma's, at start-up).
 */
import { Worker } from 'node:worker_threads'
import type { ChatTokenizer } from './chat-tokenizer.ts'

/** Longest text encoded on the calling thread: about 2 ms of encoding. */
export const INLINE_MAX_CHARS = 2_048

export type EncoderRequest = { id: number; text: string }
export type EncoderResponse =
  | { kind: 'ready' }
  | { kind: 'failed'; message: string }
  | { id: number; ids: Int32Array }
  | { id: number; error: string }

export interface PromptEncoder {
  /** The token ids of `text`, without added special tokens (`ChatTokenizer.encode`). */
  encode(text: string): Promise<number[]>
  close(): Promise<void>
}

interface Pending {
  resolve(ids: number[]): void
  reject(error: Error): void
}

/** The encoder thread: encodes any text it is sent; `dead` once it has failed. */
export interface EncoderThread {
  encode(text: string): Promise<number[]>
  readonly dead: boolean
  close(): Promise<void>
}

/**
 * Starts the encoder thread for the model folder `dir`; resolves once its tokenizer is loaded. `onDeath`
 * hears of a thread that stops later (not of `close`): from then on the main thread encodes every prompt.
 * @example const encoder = promptEncoder(await startEncoderThread(modelDir), tokenizer)
 */
export async function startEncoderThread(
  dir: string,
  onDeath: (error: Error) => void = () => {},
): Promise<EncoderThread> {
  const worker = new Worker(new URL('./prompt-encoder-thread.ts', import.meta.url), {
    workerData: { dir },
  })
  const pending = new Map<number, Pending>()
  let nextId = 1
  let dead = false
  let ready = false
  let closing = false
  const fail = (error: Error) => {
    if (dead) return
    dead = true
    for (const entry of pending.values()) entry.reject(error)
    pending.clear()
    if (ready && !closing) onDeath(error)
  }
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (message: EncoderResponse) => {
      if ('kind' in message) {
        if (message.kind === 'ready') {
          ready = true
          resolve()
        } else
          reject(new Error(`The prompt encoder thread could not load ${dir}: ${message.message}`))
        return
      }
      const entry = pending.get(message.id)
      pending.delete(message.id)
      if ('ids' in message) entry?.resolve(Array.from(message.ids))
      else entry?.reject(new Error(message.error))
    })
    worker.on('error', (error) => {
      fail(error)
      reject(error)
    })
    worker.on('exit', (code) => {
      const error = new Error(`The prompt encoder thread exited (code ${code})`)
      fail(error)
      reject(error) // before it was ready; nothing once it was
    })
  })
  return {
    encode(text) {
      if (dead) return Promise.reject(new Error('The prompt encoder thread is not running'))
      const id = nextId++
      return new Promise<number[]>((resolve, reject) => {
        pending.set(id, { resolve, reject })
        worker.postMessage({ id, text } satisfies EncoderRequest)
      })
    },
    get dead() {
      return dead
    },
    async close() {
      closing = true
      await worker.terminate()
    },
  }
}

/**
 * Short texts on `inline` (the calling thread's tokenizer of the same folder), long ones on `thread`; every
 * text on `inline` once the thread has failed, since a dead thread is no reason to refuse requests.
 */
export function promptEncoder(thread: EncoderThread, inline: ChatTokenizer): PromptEncoder {
  return {
    encode(text) {
      if (text.length <= INLINE_MAX_CHARS || thread.dead) {
        return Promise.resolve(inline.encode(text))
      }
      return thread.encode(text)
    },
    close: () => thread.close(),
  }
}
