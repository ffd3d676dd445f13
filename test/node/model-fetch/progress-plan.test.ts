/**
 * @module
 * Units of model:fetch without a network: the progress display (TTY bar and log lines, driven by a fake
 * clock), the byte and time formats, and the choice of files per variant.
 */
import { describe, expect, it } from 'vitest'
import type { TreeFile } from '../../../scripts/model-fetch/hub-client.ts'
import { dtypeSetting, metadataFiles, planWeights } from '../../../scripts/model-fetch/plan.ts'
import { Progress, formatBytes, formatDuration } from '../../../scripts/model-fetch/progress.ts'

const MB = 1024 * 1024

function recorder(isTTY: boolean) {
  const writes: string[] = []
  let now = 0
  const progress = new Progress(
    { isTTY, columns: 200, write: (text: string) => writes.push(text) },
    { now: () => now },
  )
  return { writes, progress, tick: (ms: number) => (now += ms) }
}

describe('progress', () => {
  it('formats bytes and durations', () => {
    expect(formatBytes(512)).toBe('512 B')
    expect(formatBytes(1536)).toBe('1.50 KB')
    expect(formatBytes(2.5 * 1024 * MB)).toBe('2.50 GB')
    expect(formatBytes(300 * MB)).toBe('300.0 MB')
    expect(formatDuration(65)).toBe('1:05')
    expect(formatDuration(3 * 3600 + 7)).toBe('3:00:07')
  })

  it('measures the rate on new bytes only and derives the ETA', () => {
    const { progress, tick } = recorder(false)
    progress.setTotal(1000 * MB)
    progress.startFile('onnx/a.onnx_data', 400 * MB) // already on disk: not part of the rate
    for (let i = 0; i < 5; i++) {
      tick(1000)
      progress.add(10 * MB)
    }
    expect(progress.rate()).toBeCloseTo(10 * MB, -3)
    // 550 MB left at 10 MB/s: 55 s.
    expect(progress.status()).toBe('45% 450.0 MB / 1000.0 MB  10.0 MB/s  ETA 0:55')
  })

  it('prints a plain line every 10 s when not on a terminal', () => {
    const { writes, progress, tick } = recorder(false)
    progress.setTotal(100 * MB)
    progress.startFile('onnx/x.onnx', 0)
    for (let i = 0; i < 25; i++) {
      tick(1000)
      progress.add(MB)
    }
    progress.note('got onnx/x.onnx')
    const lines = writes.join('').split('\n').filter(Boolean)
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatch(
      /^model:fetch 10% 10.0 MB \/ 100.0 MB {2}1.00 MB\/s {2}ETA 1:30 {2}onnx\/x\.onnx$/,
    )
    expect(lines[2]).toBe('got onnx/x.onnx')
    expect(writes.join('')).not.toContain('\r')
  })

  it('redraws one line in place on a terminal, at most every 100 ms', () => {
    const { writes, progress, tick } = recorder(true)
    progress.setTotal(4 * MB)
    progress.startFile('f', 0)
    progress.add(MB) // within 100 ms of the first draw: skipped
    tick(150)
    progress.add(MB)
    progress.finish()
    expect(writes).toHaveLength(3)
    expect(writes[1]).toMatch(/^\r\x1b\[2K\[#{12}\.{12}\] 50% 2.00 MB \/ 4.00 MB .* f$/)
    expect(writes[2]).toBe('\n')
  })
})

function file(path: string, size = 10): TreeFile {
  return { path, size }
}

const TREE = [
  file('README.md'),
  file('config.json'),
  file('tokenizer.json'),
  file('chat_template.jinja'),
  file('onnx/embed_tokens.onnx'),
  file('onnx/embed_tokens_quantized.onnx'),
  file('onnx/embed_tokens_quantized.onnx_data'),
  file('onnx/decoder_model_merged_q4.onnx'),
  file('onnx/decoder_model_merged_q4.onnx_data_10'),
  file('onnx/decoder_model_merged_q4.onnx_data'),
  file('onnx/decoder_model_merged_q4.onnx_data_2'),
  file('onnx/decoder_model_merged_q4.onnx_data_1'),
  file('onnx/decoder_model_merged_q4f16.onnx'),
  file('onnx/vision_encoder_fp16.onnx'),
  file('onnx/audio_encoder_q4.onnx'),
]

describe('plan', () => {
  it('takes the top-level JSON and template files only', () => {
    expect(metadataFiles(TREE).map((f) => f.path)).toEqual([
      'config.json',
      'tokenizer.json',
      'chat_template.jinja',
    ])
  })

  it('defaults to the recommended variants, falling back to what the repo has', () => {
    const plan = planWeights(TREE, undefined, [
      'embed_tokens',
      'decoder_model_merged',
      'vision_encoder',
      'audio_encoder',
    ])
    expect(plan.dtypes).toEqual({
      embed_tokens: 'q8',
      decoder_model_merged: 'q4',
      vision_encoder: 'fp16',
      audio_encoder: 'q4',
    })
    // External data chunks in numeric order.
    expect(plan.files.map((f) => f.path).filter((p) => p.includes('decoder'))).toEqual([
      'onnx/decoder_model_merged_q4.onnx',
      'onnx/decoder_model_merged_q4.onnx_data',
      'onnx/decoder_model_merged_q4.onnx_data_1',
      'onnx/decoder_model_merged_q4.onnx_data_2',
      'onnx/decoder_model_merged_q4.onnx_data_10',
    ])
    expect(dtypeSetting(plan.dtypes)).toBe(
      'embed_tokens=q8,decoder_model_merged=q4,vision_encoder=fp16,audio_encoder=q4',
    )
  })

  it('refuses a repo without the text sessions', () => {
    const tree = TREE.filter((f) => !f.path.includes('embed_tokens'))
    expect(() => planWeights(tree, 'q4', ['embed_tokens', 'decoder_model_merged'])).toThrow(
      /not an ONNX export of Gemma 3n.*embed_tokens: none; decoder_model_merged: q4, q4f16/,
    )
  })
})
