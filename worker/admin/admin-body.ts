/**
 * @module
 * Admin request bodies: read (64 KiB at most; an empty body reads as `{}`), parse as JSON, validate with a
 * valibot schema, and refuse with a 400 whose `param` and message name the offending field
 * (`limits.rpm`, `expires_at`, or the unknown field itself).
 */
import type { Context } from 'hono'
import * as v from 'valibot'
import type { AppEnv } from '../env.ts'
import { briefly } from '../../shared/errors.ts'
import { BadRequestError, PayloadTooLargeError } from '../errors.ts'

const MAX_BODY_BYTES = 64 * 1024

function pathOf(issue: v.BaseIssue<unknown>): string {
  const keys = (issue.path ?? []).map((item) => item.key)
  // strictObject reports an unknown field as an issue whose path ends at that field.
  return keys.reduce<string>(
    (param, key) =>
      typeof key === 'number'
        ? `${param}[${key}]`
        : param
          ? `${param}.${String(key)}`
          : String(key),
    '',
  )
}

function problem(issue: v.BaseIssue<unknown>): string {
  if (issue.expected === 'never') return 'is not a known field'
  if (issue.input === undefined) return 'is required'
  if (issue.kind === 'validation') return issue.message
  // A union (Unix seconds or a date-time): the branch that got as far as a check says what is wrong.
  const check = issue.issues?.find((inner) => inner.kind === 'validation')
  if (check) return check.message
  return `must be ${issue.expected ?? 'something else'} (got ${briefly(issue.received)})`
}

/**
 * @example const body = await adminBody(c, createTenantSchema)
 */
export async function adminBody<S extends v.GenericSchema>(
  c: Context<AppEnv>,
  schema: S,
): Promise<v.InferOutput<S>> {
  const text = await c.req.text()
  if (new TextEncoder().encode(text).byteLength > MAX_BODY_BYTES) {
    throw new PayloadTooLargeError(MAX_BODY_BYTES)
  }
  let json: unknown = {}
  if (text.trim() !== '') {
    try {
      json = JSON.parse(text)
    } catch {
      throw new BadRequestError('The request body is not valid JSON.', null, 'invalid_json')
    }
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new BadRequestError('The request body must be a JSON object.')
  }
  const parsed = v.safeParse(schema, json)
  if (parsed.success) return parsed.output
  const issue = parsed.issues[0]
  const param = pathOf(issue) || null
  throw new BadRequestError(`'${param ?? 'body'}' ${problem(issue)}.`, param)
}
