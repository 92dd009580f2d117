// The contract end to end in Chromium: a page bundled with esbuild uses
// RealtimeClient<typeof shopContract> (typed at compile time, no TypeBox in the bundle) and
// the server validates what the page sends against the same contract.
import t from 'tap'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { startServer } from '../helpers/server.js'
import { launchBrowser, openPage } from '../helpers/browser.js'
import { shopContract } from '../fixtures/shop-contract.js'
import { ErrorCode } from '../../lib/index.js'

const entry = fileURLToPath(new URL('../fixtures/typed-page.ts', import.meta.url))

t.test('a typed client in Chromium receives, publishes and requests per the contract; the server refuses the rest', async (t) => {
  const bundle = await build({ entryPoints: [entry], bundle: true, write: false, format: 'esm', platform: 'browser', target: 'es2022', metafile: true, logLevel: 'silent' })
  const inputs = Object.keys(bundle.metafile.inputs)
  t.notOk(inputs.some((input) => input.includes('typebox') || input.includes('shop-contract')), 'neither TypeBox nor the contract is in the page bundle')
  const code = bundle.outputFiles[0]!.text

  const { app, url } = await startServer(t, {
    plugin: { contract: shopContract },
    setup: (app) => {
      app.get('/', async (_request, reply) => reply.type('text/html').send('<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>'))
      app.get('/page.js', async (_request, reply) => reply.type('text/javascript').send(code))
      app.realtime.handle('cart.add', shopContract.messages['cart.add'].request, (message) => ({ items: message.quantity }))
    }
  })
  const browser = await launchBrowser(t)
  const { page, pageErrors } = await openPage(t, browser, url.replace('ws://', 'http://').replace(/\/ws$/, '/'))

  await page.waitForFunction(() => (window as any).log.done === true)
  await app.publish('alerts', 'restock')
  await page.waitForFunction(() => (window as any).log.alerts.length === 1)
  const log = await page.evaluate(() => (window as any).log)
  t.same(log.orders, [{ id: 'from-page', total: 3 }], "the page's own valid publish came back typed")
  t.equal(log.items, 2, 'the request resolved with the reply')
  t.same(log.refused, [ErrorCode.INVALID_MESSAGE, ErrorCode.FORBIDDEN, ErrorCode.INVALID_MESSAGE], 'bad payload, server-only channel, bad request field')
  t.same(log.alerts, ['RESTOCK'])
  t.same(pageErrors, [])
})
