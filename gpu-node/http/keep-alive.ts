/**
 * @module
 * SSE keep-alives: while a stream waits (in the queue, or during a long prefill) nothing would cross the
 * connection, and mobile carriers' NATs and proxies cut idle connections. Every `intervalMs` of silence
 * becomes a call to `ping` (which writes a `: keep-alive` comment; clients ignore comments).
 */

/**
 * Yields `source`'s items unchanged, calling `ping` whenever none arrived for `intervalMs`.
 * @example for await (const event of keepAlive(events, 15_000, () => out.write(': keep-alive\n\n'))) ...
 */
export async function* keepAlive<T>(
  source: AsyncIterable<T>,
  intervalMs: number,
  ping: () => Promise<unknown>,
): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]()
  try {
    for (;;) {
      const next = iterator.next()
      let result: IteratorResult<T> | null = null
      while (result === null) {
        let timer: NodeJS.Timeout | undefined
        const silence = new Promise<null>(
          (resolve) => (timer = setTimeout(() => resolve(null), intervalMs)),
        )
        result = await Promise.race([next, silence])
        clearTimeout(timer)
        if (result === null) await ping()
      }
      if (result.done) return
      yield result.value
    }
  } finally {
    await iterator.return?.()
  }
}
