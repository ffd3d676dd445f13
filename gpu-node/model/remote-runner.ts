/**
 * @module
 * The main thread's handle on the runner thread: the same `ModelRunner` interface, each call a message.
 * If the thread dies, every pending and later call fails with the reason instead of hanging.
 */
import { Worker } from 'node:worker_threads'
import type {
  ModelInfo,
  ModelRunner,
  ReleaseOutput,
  RunnerOptions,
  StepItem,
  StepOutput,
} from './runner-types.ts'
import { StepGate } from './step-gate.ts'

export type RunnerRequest =
  | { kind: 'step'; id: number; items: StepItem[] }
  | { kind: 'release'; id: number; seqIds: number[] }
  | { kind: 'close'; id: number }

export type RunnerResponse =
  | { kind: 'ready'; info: ModelInfo }
  | { kind: 'failed'; name: string; message: string }
  | { kind: 'result'; id: number; value: unknown }
  | { kind: 'error'; id: number; name: string; message: string }

/** An error raised inside the runner thread, re-created with its original name. */
export class RunnerError extends Error {
  constructor(name: string, message: string) {
    super(message)
    this.name = name
  }
}

/** Media buffers move to the runner thread instead of being copied (an image is 7 MB of floats). */
function transferList(request: WithoutId<RunnerRequest>): ArrayBuffer[] {
  if (request.kind !== 'step') return []
  return request.items.flatMap((item) =>
    item.media
      ? [
          ...item.media.images.map((i) => i.data.buffer),
          ...item.media.audio.flatMap((a) => [a.data.buffer, a.mask.buffer]),
        ]
      : [],
  ) as ArrayBuffer[]
}

/** `Omit` applied to each member of the union, so each keeps its own fields. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never

interface Pending {
  resolve(value: unknown): void
  reject(error: Error): void
}

/**
 * Starts the runner thread and resolves once the model is loaded and checked.
 * @example const runner = await startRunnerThread({ modelDir, runtime: 'node' })
 */
export async function startRunnerThread(options: RunnerOptions): Promise<ModelRunner> {
  // The thread's runner numbers its step calls as this side does, in the order the messages arrive.
  const gate = new StepGate()
  const workerData: RunnerOptions = { ...options, stepGate: gate.buffer }
  const worker = new Worker(new URL('./runner-thread.ts', import.meta.url), { workerData })
  const pending = new Map<number, Pending>()
  let nextId = 1
  let stepCalls = 0
  let dead: Error | null = null
  let closed: Promise<void> | null = null

  const info = await new Promise<ModelInfo>((resolve, reject) => {
    worker.on('message', (message: RunnerResponse) => {
      if (message.kind === 'ready') resolve(message.info)
      else if (message.kind === 'failed') reject(new RunnerError(message.name, message.message))
      else {
        const entry = pending.get(message.id)
        pending.delete(message.id)
        if (message.kind === 'result') entry?.resolve(message.value)
        else entry?.reject(new RunnerError(message.name, message.message))
      }
    })
    const die = (error: Error): void => {
      dead = error
      reject(error)
      for (const entry of pending.values()) entry.reject(error)
      pending.clear()
    }
    worker.on('error', die)
    worker.on('exit', (code) => die(new Error(`The model runner thread exited (code ${code}).`)))
  })

  const call = <T>(request: WithoutId<RunnerRequest>): Promise<T> => {
    if (dead) return Promise.reject(dead)
    const id = nextId++
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      worker.postMessage({ ...request, id }, transferList(request))
    })
  }

  return {
    info,
    step: (items) => {
      stepCalls++
      return call<StepOutput>({ kind: 'step', items })
    },
    withdrawLastStep: () => gate.withdraw(stepCalls),
    release: (seqIds) => call<ReleaseOutput>({ kind: 'release', seqIds }),
    // Once: a second close while the thread tears down would race its exit.
    close: () =>
      (closed ??= (async () => {
        if (!dead) await call<void>({ kind: 'close' }).catch(() => undefined)
        await worker.terminate()
      })()),
  }
}
