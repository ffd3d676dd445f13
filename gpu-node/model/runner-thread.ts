/**
 * @module
 * Entry of the runner's worker thread. onnxruntime-node runs a session synchronously on the calling thread
 * (a 189 ms run lagged the event loop by 298 ms, toolchain.md §6), so the sessions live here and the main
 * thread only streams. Messages: see remote-runner.ts.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { Gemma3nRunner } from './gemma3n-runner.ts'
import type { RunnerRequest, RunnerResponse } from './remote-runner.ts'
import type { RunnerOptions } from './runner-types.ts'

const port = parentPort
if (!port) throw new Error('runner-thread.ts must run in a worker thread')

const reply = (message: RunnerResponse): void => port.postMessage(message)

try {
  const runner = await Gemma3nRunner.load(workerData as RunnerOptions)
  reply({ kind: 'ready', info: runner.info })
  // A call may arrive before the previous one has finished (the engine keeps the next step queued behind
  // the running one, with releases between them); the runner runs them in the order they arrive.
  port.on('message', (request: RunnerRequest) => void handle(runner, request))
} catch (error) {
  reply({ kind: 'failed', ...serialize(error) })
}

/** Runs one call and replies; never rejects (an error becomes the call's reply). */
async function handle(runner: Gemma3nRunner, request: RunnerRequest): Promise<void> {
  try {
    if (request.kind === 'step') {
      reply({ kind: 'result', id: request.id, value: await runner.step(request.items) })
    } else if (request.kind === 'release') {
      reply({ kind: 'result', id: request.id, value: await runner.release(request.seqIds) })
    } else {
      await runner.close()
      reply({ kind: 'result', id: request.id, value: null })
      parentPort?.close()
    }
  } catch (error) {
    reply({ kind: 'error', id: request.id, ...serialize(error) })
  }
}

function serialize(error: unknown): { name: string; message: string } {
  return error instanceof Error
    ? { name: error.name, message: error.message }
    : { name: 'Error', message: String(error) }
}
