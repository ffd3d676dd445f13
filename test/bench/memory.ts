/**
 * @module
 * What the GPU node's memory came to during the bench: its process's peak resident set (Linux `VmHWM`:
 * weights, onnxruntime's arenas, the KV cache on the CPU devices) and, on an NVIDIA box, the GPU memory in
 * use (device-wide, from `nvidia-smi`, less what was in use before the node started: weights and KV cache
 * on cuda and webgpu alike, as onnxruntime's arenas keep what they grew to). `null` where not available.
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface NodeMemory {
  node_peak_rss_mib: number | null
  gpu_used_mib: number | null
}

/** Peak resident set of process `pid` in MiB (Linux), or `null`. */
export async function peakRssMiB(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1]
    return kib ? Number(kib) / 1024 : null
  } catch {
    return null
  }
}

/** GPU memory in use, summed over the NVIDIA GPUs, in MiB; `null` without `nvidia-smi`. */
export async function gpuUsedMiB(): Promise<number | null> {
  try {
    const { stdout } = await run('nvidia-smi', [
      '--query-gpu=memory.used',
      '--format=csv,noheader,nounits',
    ])
    const values = stdout.trim().split('\n').map(Number)
    return values.every(Number.isFinite) ? values.reduce((a, b) => a + b, 0) : null
  } catch {
    return null
  }
}
