// The example's HTTP API: how a Fastify route hands a message to realtime clients. Bodies and
// params are TypeBox schemas through @fastify/type-provider-typebox, so the handlers get typed
// input and bad input is answered 400 before they run.
import { Type, TypeBoxValidatorCompiler, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Channel, ErrorCode, RealtimeError } from '../lib/index.js'
import { ChatText } from './contract.js'

const Accepted = Type.Object({ ok: Type.Literal(true) })

/** `app.realtime.stats()`; kept open so counters added later pass through the serializer. */
const Stats = Type.Object({
  nodeId: Type.String(),
  connections: Type.Integer(),
  channels: Type.Integer(),
  messagesIn: Type.Integer(),
  messagesOut: Type.Integer(),
  errors: Type.Integer(),
  bytesOut: Type.Integer(),
  broker: Type.String()
}, { additionalProperties: true })

const ErrorReply = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String()
})

export const apiRoutes: FastifyPluginAsyncTypebox = async function apiRoutes (app) {
  // TypeBox checks the input as the schema says: no type coercion, no silently dropped fields.
  app.setValidatorCompiler(TypeBoxValidatorCompiler)
  app.setErrorHandler(function realtimeErrors (err, request, reply) {
    if (err instanceof RealtimeError) {
      // Redis down is the server's problem and temporary (503); anything else is the caller's input.
      const statusCode = err.code === ErrorCode.BROKER_UNAVAILABLE ? 503 : 400
      request.log.warn({ err }, 'realtime refused the message')
      return reply.code(statusCode).send({ statusCode, code: err.code, error: statusCode === 503 ? 'Service Unavailable' : 'Bad Request', message: err.message })
    }
    return reply.send(err)
  })

  app.post('/broadcast', {
    schema: {
      body: ChatText,
      response: { 200: Accepted, 503: ErrorReply }
    }
  }, async function broadcast (request) {
    await app.broadcast({ text: request.body.text, from: request.body.from ?? 'server' })
    return { ok: true as const }
  })

  app.post('/channels/:channel/messages', {
    schema: {
      params: Type.Object({ channel: Channel }),
      body: ChatText,
      response: { 200: Accepted, 503: ErrorReply }
    }
  }, async function publishToChannel (request) {
    await app.publish(request.params.channel, { text: request.body.text, from: request.body.from ?? 'server' })
    return { ok: true as const }
  })

  app.get('/channels/:channel/history', {
    schema: {
      params: Type.Object({ channel: Channel }),
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })) })
    }
  }, async function channelHistory (request, reply) {
    try {
      // Newest first, so `limit` takes the latest; the page shows them oldest first.
      const { offset, epoch, messages } = await app.realtime.history(request.params.channel, { limit: request.query.limit ?? 50, reverse: true })
      return { offset, epoch, messages: messages.reverse().map(({ data, ts, offset }) => ({ data, ts, offset })) }
    } catch (err) {
      if (err instanceof RealtimeError && err.code === ErrorCode.NO_HISTORY) {
        return await reply.code(404).send({ statusCode: 404, code: err.code, error: 'Not Found', message: err.message })
      }
      throw err
    }
  })

  app.get('/stats', {
    schema: { response: { 200: Stats } }
  }, async function stats () {
    return app.realtime.stats()
  })
}
