/**
 * @module
 * Writes mpg123-decoder's WebAssembly module to worker/media/audio/mpg123.wasm. The package ships the
 * module only as a compressed string that it compiles at run time, which workerd forbids ("Wasm code
 * generation disallowed by embedder"); Workers can only instantiate modules imported as `.wasm` files.
 * Runs as the package's postinstall (the file is a build artifact, not committed; mpg123 is LGPL-2.1):
 * `node scripts/extract-mpg123-wasm.ts [--check]` (`--check` exits 1
 * when the committed file differs from the installed package's module).
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import * as decoderCommon from '@wasm-audio-decoders/common'

const TARGET = new URL('../worker/media/audio/mpg123.wasm', import.meta.url)

interface EmscriptenWasmClass {
  new (common: unknown): unknown
  wasm: string
}
interface DecoderCommon {
  new (): unknown
  inflateDynEncodeString(source: string): Promise<Uint8Array>
}

/** The module bytes embedded in the installed mpg123-decoder. */
export async function mpg123WasmBytes(): Promise<Uint8Array> {
  // The package's exports map hides src/; import the file by path.
  const root = dirname(createRequire(import.meta.url).resolve('mpg123-decoder'))
  const url = pathToFileURL(join(root, 'src', 'EmscriptenWasm.js')).href
  const { default: EmscriptenWASM } = (await import(url)) as { default: EmscriptenWasmClass }
  // The package's types declare only its error shape; the class is exported all the same.
  const common = (decoderCommon as unknown as { WASMAudioDecoderCommon: DecoderCommon })
    .WASMAudioDecoderCommon
  // Constructing each once defines the static helpers and the `wasm` getter.
  new common()
  new EmscriptenWASM(common)
  return common.inflateDynEncodeString(EmscriptenWASM.wasm)
}

if (import.meta.main) {
  const bytes = await mpg123WasmBytes()
  if (process.argv.includes('--check')) {
    const same = Buffer.from(readFileSync(TARGET)).equals(Buffer.from(bytes))
    console.log(same ? 'mpg123.wasm is current' : 'mpg123.wasm differs from the installed package')
    process.exitCode = same ? 0 : 1
  } else {
    writeFileSync(TARGET, bytes)
    console.log(`wrote ${bytes.length} bytes to ${TARGET.pathname}`)
  }
}
