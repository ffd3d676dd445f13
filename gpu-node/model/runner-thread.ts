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
  // Steps arrive one at a time (the engine awaits each), so no queue is needed here.
  port.on('message', async (request: RunnerRequest) => {
    try {
      if (request.kind === 'step') {
        reply({ kind: 'result', id: request.id, value: await runner.step(request.items) })
      } else if (request.kind === 'release') {
        await runner.release(request.seqIds)
        reply({ kind: 'result', id: request.id, value: null })
      } else {
        await runner.close()
        reply({ kind: 'result', id: request.id, value: null })
        port.close()
      }
    } catch (error) {
      reply({ kind: 'error', id: request.id, ...serialize(error) })
    }
  })
} catch (error) {
  reply({ kind: 'failed', ...serialize(error) })
}

function serialize(error: unknown): { name: string; message: string } {
  return error instanceof Error
    ? { name: error.name, message: error.message }
    : { name: 'Error', message: String(error) }
}
