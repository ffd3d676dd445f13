/**
 * @module contract-model/onnx-builder
 * A small ONNX graph builder on `onnx-proto` (toolchain.md §8): nodes, typed graph inputs/outputs
 * with symbolic dims, constants, seeded random weights, and encoding to opset 17 / IR 8 with every
 * initializer over 1 KiB moved to an external data file.
 */
import onnxProto from 'onnx-proto'
import { randomWeights } from './prng.ts'

const { onnx } = onnxProto

/** Element types the contract graphs use. */
export type ElemType = 'float32' | 'float16' | 'int64' | 'int32' | 'bool'

/** A dimension: a fixed size or a symbolic name such as `batch_size`. */
export type Dim = number | string

/** Node attribute: integer, integer list, or a float wrapped as `{ f }`. */
export type Attr = number | number[] | { f: number }

/** ONNX TensorProto.DataType codes. */
export const ONNX_TYPES: Readonly<Record<ElemType, number>> = {
  float32: 1,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
}

const OPSET = 17
const IR_VERSION = 8
/** onnxruntime's contrib operators (GroupQueryAttention): version 1 is the only one. */
const MICROSOFT_DOMAIN = 'com.microsoft'
const EXTERNAL_MIN_BYTES = 1024
// Offsets in the data file are aligned so each tensor starts on a cache line.
const DATA_ALIGN = 64

interface Initializer {
  name: string
  dims: number[]
  dataType: number
  bytes: Uint8Array
}

function valueInfo(name: string, type: ElemType, dims: Dim[]): onnxProto.onnx.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }))
  return { name, type: { tensorType: { elemType: ONNX_TYPES[type], shape: { dim } } } }
}

function attribute(name: string, value: Attr): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value }
  if (typeof value === 'number') return { name, type: T.INT, i: value }
  return { name, type: T.FLOAT, f: value.f }
}

function bytesOf(view: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
}

/** Builds one graph; tensor names are generated unless given. */
export class GraphBuilder {
  private readonly seed: number
  private readonly nodes: onnxProto.onnx.INodeProto[] = []
  private readonly inits: Initializer[] = []
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = []
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = []
  private counter = 0
  private usesMicrosoftOps = false

  constructor(seed: number) {
    this.seed = seed
  }

  private fresh(prefix: string): string {
    this.counter += 1
    return `${prefix}_${this.counter}`
  }

  /** Declares a graph input and returns its name. */
  input(name: string, type: ElemType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims))
    return name
  }

  /** Declares an existing tensor as a graph output (in call order). */
  output(name: string, type: ElemType, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, type, dims))
  }

  /** Adds a one-output node; `out` names the result (for graph outputs). */
  op(type: string, inputs: string[], attrs: Record<string, Attr> = {}, out?: string): string {
    const name = out ?? this.fresh(type.toLowerCase())
    this.nodes.push({
      opType: type,
      name: `${type}_${this.nodes.length}`,
      input: inputs,
      output: [name],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    })
    return name
  }

  /** Adds a node with several named outputs (e.g. TopK's values and indices). */
  opOutputs(
    type: string,
    inputs: string[],
    outputs: string[],
    attrs: Record<string, Attr> = {},
  ): string[] {
    this.nodes.push({
      opType: type,
      name: `${type}_${this.nodes.length}`,
      input: inputs,
      output: outputs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    })
    return outputs
  }

  /** Adds an onnxruntime contrib operator (`com.microsoft` domain) with several named outputs. */
  microsoftOp(
    type: string,
    inputs: string[],
    outputs: string[],
    attrs: Record<string, Attr> = {},
  ): string[] {
    this.usesMicrosoftOps = true
    this.opOutputs(type, inputs, outputs, attrs)
    this.nodes.at(-1)!.domain = MICROSOFT_DOMAIN
    return outputs
  }

  /** An int64 constant; a scalar when `dims` is `[]`. */
  int64(values: number[], dims: number[] = [values.length]): string {
    return this.init(
      this.fresh('i64'),
      dims,
      ONNX_TYPES.int64,
      bytesOf(BigInt64Array.from(values, BigInt)),
    )
  }

  /** A float32 constant; a scalar when `dims` is `[]`. */
  float(values: ArrayLike<number>, dims: number[] = [values.length]): string {
    return this.init(
      this.fresh('f32'),
      dims,
      ONNX_TYPES.float32,
      bytesOf(Float32Array.from(values)),
    )
  }

  /** A seeded random float32 weight with standard deviation `scale`, named `name`. */
  weight(name: string, dims: number[], scale: number): string {
    const count = dims.reduce((a, b) => a * b, 1)
    return this.init(
      name,
      dims,
      ONNX_TYPES.float32,
      bytesOf(randomWeights(this.seed, name, count, scale)),
    )
  }

  private init(name: string, dims: number[], dataType: number, bytes: Uint8Array): string {
    this.inits.push({ name, dims, dataType, bytes })
    return name
  }

  /**
   * Encodes the model; initializers over 1 KiB go to `dataFile` (a name relative to the .onnx file), or
   * with `null` stay inside the model.
   * @returns the .onnx bytes and the external data bytes (empty with `null`)
   */
  encode(graphName: string, dataFile: string | null): { model: Uint8Array; data: Uint8Array } {
    const chunks: Uint8Array[] = []
    let offset = 0
    const initializer = this.inits.map((t): onnxProto.onnx.ITensorProto => {
      const base = { name: t.name, dims: t.dims, dataType: t.dataType }
      if (dataFile === null || t.bytes.byteLength <= EXTERNAL_MIN_BYTES) {
        return { ...base, rawData: t.bytes }
      }
      const pad = (DATA_ALIGN - (offset % DATA_ALIGN)) % DATA_ALIGN
      if (pad > 0) chunks.push(new Uint8Array(pad))
      offset += pad
      const entry = {
        ...base,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: dataFile },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(t.bytes.byteLength) },
        ],
      }
      chunks.push(t.bytes)
      offset += t.bytes.byteLength
      return entry
    })
    const model = onnx.ModelProto.encode({
      irVersion: IR_VERSION,
      opsetImport: [
        { domain: '', version: OPSET },
        ...(this.usesMicrosoftOps ? [{ domain: MICROSOFT_DOMAIN, version: 1 }] : []),
      ],
      producerName: 'gemma-edge contract-model',
      graph: {
        name: graphName,
        node: this.nodes,
        initializer,
        input: this.inputs,
        output: this.outputs,
      },
    }).finish()
    return { model, data: Buffer.concat(chunks) }
  }
}
