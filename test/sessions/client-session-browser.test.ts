// The browser client's session in Chromium: getToken() fetches a token from an HTTP route of
// the app before each attempt (browsers cannot set headers: it travels in the query), answers
// refresh_needed by itself, and a logged-out user (no token) ends in state closed.
import t from 'tap'
import jwt from '@fastify/jwt'
import type { FastifyRequest } from 'fastify'
import { tokenFromRequest } from '../../lib/index.js'
import { startServer } from '../helpers/server.js'
import { launchBrowser, openPage } from '../helpers/browser.js'
import { bundleClient } from '../helpers/client-bundle.js'

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256'

interface User { sub: string, n: number }

const page = `<!doctype html>
<meta charset="utf-8">
<title>fastify-realtime sessions</title>
<script type="module">
  import { RealtimeClient } from '/client.js'
  const log = window.log = { states: [], refreshed: [], errors: [], tokens: 0 }
  const getToken = async () => {
    const response = await fetch('/token')
    if (response.status === 401) return null
    log.tokens++
    return (await response.json()).token
  }
  const client = window.client = new RealtimeClient('ws://' + location.host + '/ws', { getToken, initialDelay: 50, maxDelay: 200 })
  client.on('state', (state) => { log.states.push(state) })
  client.on('refreshed', ({ expiresIn }) => { log.refreshed.push(expiresIn) })
  client.on('error', (err) => { log.errors.push(err.code ?? err.message) })
</script>
`

t.test('in Chromium: getToken() before connecting, refresh_needed answered, logged out after a drop', async (t) => {
  const bundle = (await bundleClient()).code
  let issued = 0
  let loggedIn = true
  const { app, url } = await startServer(t, {
    plugin: {
      heartbeatInterval: 60_000,
      // The first token lives a minute, less than the lead time: the server asks for a new one at once.
      refreshLeadTime: 120_000,
      authenticate: (request: FastifyRequest) => request.server.jwt.verify<User>(tokenFromRequest(request) ?? '')
    },
    setup: async (app) => {
      await app.register(jwt, { secret: SECRET })
      app.get('/', async (_request, reply) => reply.type('text/html').send(page))
      app.get('/client.js', async (_request, reply) => reply.type('text/javascript').send(bundle))
      app.get('/token', async (_request, reply) => {
        if (!loggedIn) return await reply.code(401).send({ error: 'logged out' })
        issued++
        return { token: app.jwt.sign({ sub: 'ada', n: issued }, { expiresIn: issued === 1 ? 60 : 3600 }) }
      })
    }
  })
  const browser = await launchBrowser(t)
  const { page: tab, pageErrors } = await openPage(t, browser, url.replace('ws://', 'http://').replace(/\/ws$/, '/'))

  await tab.waitForFunction(() => (window as any).log.refreshed.length === 1)
  const [connection] = [...app.realtime.connections()]
  t.match(connection?.user, { sub: 'ada', n: 2 }, 'the server holds the refreshed token\'s user')
  const expiresIn = await tab.evaluate(() => (window as any).log.refreshed[0])
  t.ok(expiresIn > 3_000_000, 'the page learned the new expiry')

  loggedIn = false
  connection!.socket.terminate()
  await tab.waitForFunction(() => (window as any).log.states.includes('closed'))
  t.same(await tab.evaluate(() => (window as any).log.states), ['open', 'reconnecting', 'closed'])
  t.same(await tab.evaluate(() => (window as any).log.errors), ['logged_out'])
  t.equal(app.realtime.connectionCount, 0)
  t.same(pageErrors, [], 'no uncaught error in the page')
})
