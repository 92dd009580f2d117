// Runs Debian's mosquitto on loopback with its own config in a temp folder (no persistence,
// anonymous clients): the MQTT engine of `npm run start:cluster -- --engine mqtt`, and of the
// tests (test/helpers/mosquitto.ts).
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startProcess, waitForPort, type ManagedProcess, type ProcessOptions } from './child-process.js'

export interface MosquittoProcess extends ManagedProcess {
  url: string
}

function mosquittoBinary (): string {
  if (process.env.MOSQUITTO_BIN !== undefined) return process.env.MOSQUITTO_BIN
  // Debian installs it in /usr/sbin, which is not on every user's PATH.
  return existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : 'mosquitto'
}

/** Resolves once the server accepts connections on 127.0.0.1:`port`. */
export async function startMosquitto (port: number, options: ProcessOptions = {}): Promise<MosquittoProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'realtime-mosquitto-'))
  const config = join(dir, 'mosquitto.conf')
  await writeFile(config, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stdout\nlog_type error\nlog_type warning\n`)
  const proc = startProcess('mosquitto', mosquittoBinary(), ['-c', config], options)
  try {
    await waitForPort(proc, port)
  } catch (err) {
    await proc.stop()
    await rm(dir, { recursive: true, force: true })
    throw err
  }
  return {
    ...proc,
    url: `mqtt://127.0.0.1:${port}`,
    async stop (signal = 'SIGTERM') {
      await proc.stop(signal)
      await rm(dir, { recursive: true, force: true })
    }
  }
}
