// Starts Debian's mosquitto on a free loopback port, with its own config in a temp folder
// (no persistence, anonymous clients), stopped at teardown. `restart()` brings it back on
// the same port, as an operator restarting the MQTT server would.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { connectAsync, type MqttClient } from 'mqtt'
import { startProcess, waitForPort, type ManagedProcess } from '../../example-app/cluster/child-process.js'
import { freePort } from './redis-server.js'

export interface Mosquitto {
  port: number
  url: string
  /** Kills the server (SIGKILL: no goodbye to its clients). */
  kill: () => Promise<void>
  /** Starts it again on the same port. */
  restart: () => Promise<void>
  /** An MQTT.js client of the test's own (a device, say), ended at teardown. */
  client: (t: Test) => Promise<MqttClient>
}

export const MOSQUITTO_BIN = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto'

export async function startMosquitto (t: Test): Promise<Mosquitto> {
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'realtime-mosquitto-'))
  const config = join(dir, 'mosquitto.conf')
  await writeFile(config, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n`)
  let proc: ManagedProcess | undefined
  const start = async (): Promise<void> => {
    proc = startProcess('mosquitto', MOSQUITTO_BIN, ['-c', config])
    await waitForPort(proc, port)
  }
  await start()
  t.teardown(async () => {
    await proc?.stop()
    await rm(dir, { recursive: true, force: true })
  })
  const url = `mqtt://127.0.0.1:${port}`
  return {
    port,
    url,
    kill: async () => { await proc?.stop('SIGKILL') },
    restart: start,
    client: async (t) => {
      const client = await connectAsync(url, { reconnectPeriod: 200 })
      t.teardown(() => client.endAsync(true))
      return client
    }
  }
}
