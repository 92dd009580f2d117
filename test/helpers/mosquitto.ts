// Starts mosquitto on a free loopback port for a test (example-app/cluster/mosquitto-process.ts),
// stopped at teardown. `kill()` and `restart()` stop it without a goodbye and bring it back on
// the same port, as a crashed and restarted MQTT server would.
import type { Test } from 'tap'
import { connectAsync, type MqttClient } from 'mqtt'
import { startMosquitto as startMosquittoProcess, type MosquittoProcess } from '../../example-app/cluster/mosquitto-process.js'
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

export async function startMosquitto (t: Test): Promise<Mosquitto> {
  const port = await freePort()
  let proc: MosquittoProcess | undefined = await startMosquittoProcess(port)
  t.teardown(async () => { await proc?.stop() })
  const url = `mqtt://127.0.0.1:${port}`
  return {
    port,
    url,
    kill: async () => {
      await proc?.stop('SIGKILL')
      proc = undefined
    },
    restart: async () => { proc = await startMosquittoProcess(port) },
    client: async (t) => {
      const client = await connectAsync(url, { reconnectPeriod: 200 })
      t.teardown(() => client.endAsync(true))
      return client
    }
  }
}
