// A refresh token is checked by the application's own `authenticate`, which takes a
// FastifyRequest: we hand it the handshake's request with the new token as its only
// credential. `Authorization: Bearer <token>` is set; the cookie header, parsed cookies and
// the query string are dropped, so neither the handshake's token nor its cookie can vouch
// for a refresh. Decorators (`request.jwtVerify()`, `request.server`...) still work: the
// handshake's request is the prototype, and what `authenticate` writes lands on this copy.
import type { FastifyRequest } from 'fastify'

export function refreshRequest (handshake: FastifyRequest, token: string): FastifyRequest {
  const headers: Record<string, string | string[] | undefined> = { ...handshake.headers, authorization: `Bearer ${token}` }
  delete headers.cookie
  const url = handshake.url
  const queryStart = url.indexOf('?')
  return Object.create(handshake, {
    headers: { value: headers, enumerable: true, writable: true },
    url: { value: queryStart === -1 ? url : url.slice(0, queryStart), enumerable: true },
    query: { value: {}, enumerable: true, writable: true },
    cookies: { value: {}, enumerable: true, writable: true },
    user: { value: undefined, enumerable: true, writable: true }
  }) as FastifyRequest
}
