/**
 * @module
 * A small client for the worker's admin API (`/admin/*`), used by the CLI (`npm run admin`) and by the
 * launchers that seed the development tenant. Errors carry the API's OpenAI-style message and `param`.
 */

export class AdminApiError extends Error {
  readonly status: number
  readonly param: string | null

  constructor(status: number, message: string, param: string | null) {
    super(message)
    this.name = 'AdminApiError'
    this.status = status
    this.param = param
  }
}

export interface AdminClient {
  request<T = unknown>(method: string, path: string, body?: unknown): Promise<T>
}

/**
 * @example
 * const admin = createAdminClient('http://127.0.0.1:8787', 'dev-admin-token')
 * const tenant = await admin.request<{ id: string }>('POST', '/tenants', { name: 'acme' })
 */
export function createAdminClient(baseUrl: string, token: string): AdminClient {
  const root = `${baseUrl.replace(/\/+$/, '')}/admin`
  return {
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      let response: Response
      try {
        response = await fetch(`${root}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        })
      } catch (cause) {
        throw new AdminApiError(
          0,
          `Cannot reach the admin API at ${root} (${String(cause)}).`,
          null,
        )
      }
      const text = await response.text()
      const json = text ? (JSON.parse(text) as unknown) : null
      if (!response.ok) {
        const error = (json as { error?: { message?: string; param?: string | null } } | null)
          ?.error
        throw new AdminApiError(
          response.status,
          error?.message ?? `HTTP ${response.status}`,
          error?.param ?? null,
        )
      }
      return json as T
    },
  }
}
