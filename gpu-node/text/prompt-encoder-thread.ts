/**
 * @module
 * Entry of the prompt encoder's thread (prompt-encoder.ts): the folder's tokenizer, encoding one text per
 * message, in the order they arrive. The ids travel back as a transferred `Int32Array`.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { ChatTokenizer } from './chat-tokenizer.ts'
import type { EncoderRequest, EncoderResponse } from './prompt-encoder.ts'

const port = parentPort
if (!port) throw new Error('prompt-encoder-thread.ts must run in a worker thread')

try {
  const tokenizer = await ChatTokenizer.load((workerData as { dir: string }).dir)
  port.on('message', ({ id, text }: EncoderRequest) => {
    try {
      const ids = Int32Array.from(tokenizer.encode(text))
      port.postMessage({ id, ids } satisfies EncoderResponse, [ids.buffer])
    } catch (error) {
      port.postMessage({ id, error: String(error) } satisfies EncoderResponse)
    }
  })
  port.postMessage({ kind: 'ready' } satisfies EncoderResponse)
} catch (error) {
  port.postMessage({ kind: 'failed', message: String(error) } satisfies EncoderResponse)
}
