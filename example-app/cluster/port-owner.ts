// Which process listens on a TCP port of this machine, for a launcher that finds its port
// taken and should say by what. Reads Linux's /proc (the socket's inode in /proc/net/tcp*,
// then the process holding that inode); elsewhere, or without permission, it knows nothing.
import { readdir, readFile, readlink } from 'node:fs/promises'

export interface PortOwner {
  pid: number
  /** The command line, arguments separated by spaces. */
  command: string
}

const LISTEN = '0A'

async function listeningInodes (port: number): Promise<Set<string>> {
  const inodes = new Set<string>()
  const portHex = port.toString(16).toUpperCase().padStart(4, '0')
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '')
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      const local = fields[1]
      if (local === undefined || fields[3] !== LISTEN || !local.endsWith(`:${portHex}`)) continue
      const inode = fields[9]
      if (inode !== undefined && inode !== '0') inodes.add(inode)
    }
  }
  return inodes
}

/** The process listening on `port`, or undefined when it cannot be told. */
export async function portOwner (port: number): Promise<PortOwner | undefined> {
  const inodes = await listeningInodes(port)
  if (inodes.size === 0) return undefined
  const pids = (await readdir('/proc').catch(() => [])).filter((name) => /^\d+$/.test(name))
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [])
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1]
      if (inode === undefined || !inodes.has(inode)) continue
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
      return { pid: Number(pid), command: cmdline.split('\0').filter(Boolean).join(' ') }
    }
  }
  return undefined
}

/** "port 8080 is taken by pid 123 (nginx: master process ...)", or a plainer sentence. */
export async function describeTakenPort (port: number): Promise<string> {
  const owner = await portOwner(port)
  if (owner === undefined) return `port ${port} is taken (by a process this user cannot see)`
  return `port ${port} is taken by pid ${owner.pid} (${owner.command.slice(0, 120)})`
}
