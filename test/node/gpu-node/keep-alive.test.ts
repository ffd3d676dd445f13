import { describe, expect, it } from 'vitest'
import { keepAlive } from '../../../gpu-node/http/keep-alive.ts'

async function* slow(values: number[], delays: number[]) {
  for (const [i, value] of values.entries()) {
    await new Promise((resolve) => setTimeout(resolve, delays[i]))
    yield value
  }
}

describe('keepAlive', () => {
  it('pings during silences and passes every item through in order', async () => {
    const log: string[] = []
    for await (const value of keepAlive(
      slow([1, 2, 3], [0, 130, 0]),
      40,
      async () => void log.push('ping'),
    )) {
      log.push(String(value))
    }
    expect(log[0]).toBe('1')
    expect(log.slice(-2)).toEqual(['2', '3'])
    // The silence after item 1 holds several intervals; no ping once the items flow again.
    expect(log.filter((entry) => entry === 'ping').length).toBeGreaterThanOrEqual(2)
    expect(log.indexOf('ping')).toBeGreaterThan(log.indexOf('1'))
  })

  it('closes the source when the consumer stops early', async () => {
    let closed = false
    async function* source() {
      try {
        yield 1
        yield 2
      } finally {
        closed = true
      }
    }
    for await (const value of keepAlive(source(), 1_000, async () => {})) if (value === 1) break
    expect(closed).toBe(true)
  })
})
