/**
 * @module
 * The https image fetch: which URLs are refused before any request (private, loopback, link-local and
 * their IPv6 forms, local names, credentials, other ports), and what a response must be (redirects re-
 * checked and limited, image content type, size cap, timeout). The network is a scripted fetch.
 */
import { describe, expect, it } from 'vitest'
import { refuseImageUrl } from '../../../worker/media/image/address-policy.ts'
import { fetchImage } from '../../../worker/media/image/fetch-image.ts'
import { MediaInputError } from '../../../worker/media/media-error.ts'

type Route = (init: RequestInit | undefined) => Response | Promise<Response>

/** A fetch that answers from `routes` by URL and records what was asked. */
function scripted(routes: Record<string, Route>) {
  const asked: string[] = []
  const doFetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input)
    asked.push(url)
    const route = routes[url]
    if (!route) throw new TypeError(`no route for ${url}`)
    return route(init)
  }) as typeof fetch
  return { doFetch, asked }
}

const PIXEL = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16])
const image =
  (body: BodyInit = PIXEL, type = 'image/jpeg') =>
  () =>
    new Response(body, { headers: { 'content-type': type } })
const redirect = (to: string) => () =>
  new Response(null, { status: 302, headers: { location: to } })

describe('refuseImageUrl', () => {
  it.each([
    'http://example.com/a.jpg',
    'https://user:pw@example.com/a.jpg',
    'https://example.com:8443/a.jpg',
    'https://localhost/a.jpg',
    'https://api.localhost/a.jpg',
    'https://printer.local/a.jpg',
    'https://intranet/a.jpg',
    'https://127.0.0.1/a.jpg',
    'https://0x7f.1/a.jpg',
    'https://2130706433/a.jpg',
    'https://10.1.2.3/a.jpg',
    'https://172.20.0.1/a.jpg',
    'https://192.168.1.1/a.jpg',
    'https://169.254.169.254/latest/meta-data',
    'https://100.64.0.1/a.jpg',
    'https://0.0.0.0/a.jpg',
    'https://[::1]/a.jpg',
    'https://[::]/a.jpg',
    'https://[fe80::1]/a.jpg',
    'https://[fd00::1]/a.jpg',
    'https://[::ffff:127.0.0.1]/a.jpg',
    'https://[::ffff:10.0.0.1]/a.jpg',
    'https://[64:ff9b::a9fe:a9fe]/a.jpg',
    'https://[2002:c0a8:0101::1]/a.jpg',
    'https://[ff02::1]/a.jpg',
  ])('refuses %s', (url) => {
    expect(refuseImageUrl(new URL(url))).not.toBeNull()
  })

  it.each([
    'https://example.com/a.jpg',
    'https://8.8.8.8/a.jpg',
    'https://[2606:4700::1111]/a.jpg',
    'https://[::ffff:8.8.8.8]/a.jpg',
  ])('allows %s', (url) => {
    expect(refuseImageUrl(new URL(url))).toBeNull()
  })
})

describe('fetchImage', () => {
  it('returns the bytes and media type of an image', async () => {
    const { doFetch } = scripted({ 'https://img.example/a.jpg': image() })
    const fetched = await fetchImage('https://img.example/a.jpg', { fetch: doFetch })
    expect(fetched.mediaType).toBe('image/jpeg')
    expect([...fetched.bytes]).toEqual([...PIXEL])
  })

  it('follows redirects by hand and checks every hop', async () => {
    const { doFetch, asked } = scripted({
      'https://a.example/x': redirect('https://b.example/y'),
      'https://b.example/y': redirect('/z'),
      'https://b.example/z': image(),
    })
    await expect(fetchImage('https://a.example/x', { fetch: doFetch })).resolves.toMatchObject({
      mediaType: 'image/jpeg',
    })
    expect(asked).toEqual(['https://a.example/x', 'https://b.example/y', 'https://b.example/z'])
  })

  it('refuses a redirect to a private address without requesting it', async () => {
    const { doFetch, asked } = scripted({
      'https://a.example/x': redirect('https://169.254.169.254/latest'),
    })
    await expect(fetchImage('https://a.example/x', { fetch: doFetch })).rejects.toThrow(
      /not public/,
    )
    expect(asked).toEqual(['https://a.example/x'])
  })

  it('stops after 3 redirects', async () => {
    const { doFetch } = scripted({
      'https://a.example/0': redirect('https://a.example/1'),
      'https://a.example/1': redirect('https://a.example/2'),
      'https://a.example/2': redirect('https://a.example/3'),
      'https://a.example/3': redirect('https://a.example/4'),
      'https://a.example/4': image(),
    })
    await expect(fetchImage('https://a.example/0', { fetch: doFetch })).rejects.toThrow(
      /too many times/,
    )
  })

  it.each([
    ['a non-image content type', image(PIXEL, 'text/html'), /'text\/html', not an image/],
    ['an HTTP error', () => new Response('nope', { status: 404 }), /HTTP 404/],
    [
      'a declared oversize body',
      () =>
        new Response(PIXEL, {
          headers: { 'content-type': 'image/png', 'content-length': '999999' },
        }),
      /exceeds 1000 bytes/,
    ],
    ['an undeclared oversize body', image(new Uint8Array(5000)), /exceeds 1000 bytes/],
  ] as const)('refuses %s', async (_name, route, message) => {
    const { doFetch } = scripted({ 'https://a.example/x': route })
    const attempt = fetchImage('https://a.example/x', { fetch: doFetch, maxBytes: 1000 })
    await expect(attempt).rejects.toBeInstanceOf(MediaInputError)
    await expect(attempt).rejects.toThrow(message)
  })

  it('gives up when the server does not answer in time', async () => {
    const hang: Route = (init) =>
      new Promise((_, reject) =>
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason)),
      )
    const { doFetch } = scripted({ 'https://a.example/x': hang })
    await expect(
      fetchImage('https://a.example/x', { fetch: doFetch, timeoutMs: 50 }),
    ).rejects.toThrow(/timed out/)
  })
})
