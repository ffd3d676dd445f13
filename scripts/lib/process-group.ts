/**
 * @module
 * Child processes that can be stopped completely: each starts detached as the leader of its own process
 * group, so a signal to the group also reaches what it spawned (wrangler's workerd processes, the GPU
 * node's runner thread). Killing only the npm/npx PID would leave those running (toolchain.md §12).
 */
import { spawn } from 'node:child_process'
import type { ChildProcess, SpawnOptions } from 'node:child_process'
import { createServer } from 'node:net'

export interface Service {
  name: string
  child: ChildProcess
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>
  /** SIGTERM to the whole group, SIGKILL after `graceMs`; resolves when the leader has exited. */
  stop(graceMs?: number): Promise<void>
}

export function startService(
  name: string,
  command: string,
  args: string[],
  options: SpawnOptions = {},
): Service {
  const child = spawn(command, args, { stdio: 'inherit', ...options, detached: true })
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code))
    child.once('error', () => resolve(null))
  })
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      if (child.pid) process.kill(-child.pid, signal)
    } catch {
      // Already gone.
    }
  }
  return {
    name,
    child,
    exited,
    async stop(graceMs = 3_000) {
      if (child.exitCode !== null || child.signalCode !== null) {
        signalGroup('SIGKILL')
        return
      }
      signalGroup('SIGTERM')
      const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
      signalGroup('SIGKILL') // stragglers in the group (e.g. workerd) that ignored SIGTERM
    },
  }
}

/** Polls `url` until it answers 2xx; fails early if `service` exits, or after `timeoutMs`. */
export async function waitForHttp(url: string, service: Service, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let exited = false
  void service.exited.then(() => (exited = true))
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${service.name} exited before ${url} answered.`)
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) })
      if (response.ok) return
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`${service.name} did not answer ${url} within ${timeoutMs} ms.`)
}

/**
 * Resolves when nothing listens on 127.0.0.1:`port`; rejects naming `setting` otherwise. A launcher checks
 * first because its readiness check would take another program's answer on that port for its own service.
 */
export function ensurePortFree(port: number, setting: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          error.code === 'EADDRINUSE'
            ? `Port ${port} is in use (another npm start?): stop that program, or set ${setting}.`
            : `Port ${port} cannot be opened (${error.code}): set ${setting}.`,
        ),
      ),
    )
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()))
  })
}
