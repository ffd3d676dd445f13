/**
 * @module
 * Copies a tensor the decoder left on the device (`gpu-buffer`) to the host, for the rare step where
 * JavaScript must read it: on WebGPU the logits stay on the GPU, and only a row that may read its whole
 * logits row (a penalty, top-k off) needs them here. onnxruntime-node cannot download a device buffer
 * from JavaScript (its `download()` is not implemented), so a one-node Identity session on the same device
 * does it: its output is not kept on the device, so the runtime hands it back in host memory.
 */
import { GraphBuilder } from '../contract-model/onnx-builder.ts'
import type { InferenceSession, OrtRuntime, Tensor, TensorType } from './ort-runtime.ts'
import { sessionRun } from './session-run.ts'

export class HostCopy {
  readonly #session: InferenceSession

  private constructor(session: InferenceSession) {
    this.#session = session
  }

  /** A copier for tensors of `type` and `rank` dimensions (any sizes). */
  static async create(runtime: OrtRuntime, type: TensorType, rank: number): Promise<HostCopy> {
    const g = new GraphBuilder(0)
    const dims = Array.from({ length: rank }, (_, i) => `d${i}`)
    g.output(g.op('Identity', [g.input('x', type, dims)], {}, 'y'), type, dims)
    const model = g.encode('host_copy', 'unused.onnx_data').model
    return new HostCopy(await runtime.createSessionFromBytes(model))
  }

  /** `tensor` itself when it is already in host memory, else a host copy (the caller disposes both). */
  async toHost(tensor: Tensor): Promise<Tensor> {
    if (tensor.location !== 'gpu-buffer') return tensor
    return (await sessionRun('host copy', this.#session, { x: tensor })).y!
  }

  release(): Promise<void> {
    return this.#session.release()
  }
}
