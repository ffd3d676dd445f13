/**
 * @module
 * Limit windows and the duration format of the rate-limit headers. rpm and tpm use a 60 s window that opens
 * with the first request after the previous one closed, so "resets in" is exact: when it says 12s, the
 * full limit is back 12 s later. Daily and monthly budgets follow the UTC calendar.
 */
import type { LimitField } from '../tenancy/limits.ts'

const SECOND = 1_000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/** The windowed limits (concurrency has no window). */
export type WindowField = Exclude<LimitField, 'concurrency'>

/** Length of the rpm and tpm windows. */
export const ROLLING_WINDOW_MS = MINUTE

/** Window fields that count tokens (`rpm` counts requests). */
export const TOKEN_FIELDS = ['tpm', 'daily_tokens', 'monthly_tokens'] as const
export type TokenField = (typeof TOKEN_FIELDS)[number]

export interface Window {
  start: number
  end: number
}

/**
 * The window `now` falls in, given the start of the last stored window for the same limit (or `null`).
 * @example currentWindow('rpm', null, 1_000) // { start: 1_000, end: 61_000 }
 */
export function currentWindow(field: WindowField, storedStart: number | null, now: number): Window {
  if (field === 'rpm' || field === 'tpm') {
    const open = storedStart !== null && now >= storedStart && now < storedStart + ROLLING_WINDOW_MS
    const start = open ? storedStart : now
    return { start, end: start + ROLLING_WINDOW_MS }
  }
  if (field === 'daily_tokens') {
    const start = Math.floor(now / DAY) * DAY
    return { start, end: start + DAY }
  }
  const date = new Date(now)
  const year = date.getUTCFullYear()
  const month = date.getUTCMonth()
  return { start: Date.UTC(year, month, 1), end: Date.UTC(year, month + 1, 1) }
}

/** `YYYY-MM-DD` (UTC) of a Unix-millisecond time: the day a usage record counts for. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10)
}

/**
 * A duration as Go's `time.Duration.String()` writes it, which is what OpenAI's `x-ratelimit-reset-*`
 * headers carry: `0s`, `12ms`, `1.5s`, `6m0s`, `1h2m3s`. Whole milliseconds only.
 * @example goDuration(360_000) // '6m0s'
 */
export function goDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms))
  if (total === 0) return '0s'
  if (total < SECOND) return `${total}ms`
  const hours = Math.floor(total / HOUR)
  const minutes = Math.floor((total % HOUR) / MINUTE)
  const seconds = (total % MINUTE) / SECOND
  const secondsText = `${Number(seconds.toFixed(3))}s`
  if (hours > 0) return `${hours}h${minutes}m${secondsText}`
  if (minutes > 0) return `${minutes}m${secondsText}`
  return secondsText
}
