// Runs Debian's nginx unprivileged with its own prefix: config, pid, logs and temp files all
// live in a fresh temp folder that stop() removes.
import { existsSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startProcess, waitForPort, type ManagedProcess, type ProcessOptions } from './child-process.js'
import { loadNginxConfig, type NginxConfigOptions } from './render-nginx-config.js'

export interface NginxProcess extends ManagedProcess {
  url: string
  prefix: string
}

function nginxBinary (): string {
  if (process.env.NGINX_BIN !== undefined) return process.env.NGINX_BIN
  // Debian installs it in /usr/sbin, which is not on every user's PATH.
  return existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx'
}

export async function startNginx (options: NginxConfigOptions, spawnOptions: ProcessOptions = {}): Promise<NginxProcess> {
  const configText = await loadNginxConfig(options)
  const prefix = await mkdtemp(join(tmpdir(), 'realtime-nginx-'))
  // Started as root, nginx runs its worker as `nobody`, which must reach the temp folders.
  await chmod(prefix, 0o755)
  await mkdir(join(prefix, 'logs'))
  await mkdir(join(prefix, 'temp'))
  const config = join(prefix, 'nginx.conf')
  await writeFile(config, configText)

  const errorLog = join(prefix, 'logs', 'error.log')
  const proc = startProcess('nginx', nginxBinary(), ['-p', prefix, '-c', config, '-e', errorLog, '-g', 'daemon off;'], spawnOptions)
  try {
    await waitForPort(proc, options.listenPort)
  } catch (err) {
    await proc.stop()
    const log = await readFile(errorLog, 'utf8').catch(() => '')
    await rm(prefix, { recursive: true, force: true })
    throw new Error(`${(err as Error).message}\n${log}`)
  }
  return {
    ...proc,
    url: `http://127.0.0.1:${options.listenPort}`,
    prefix,
    async stop (signal = 'SIGTERM') {
      // SIGTERM is nginx's fast shutdown; SIGQUIT would wait for every WebSocket to end.
      await proc.stop(signal)
      await rm(prefix, { recursive: true, force: true })
    }
  }
}
