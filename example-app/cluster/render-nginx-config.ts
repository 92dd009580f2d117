// Turns nginx/nginx.conf into the config a run needs: other ports, shorter timeouts (tests),
// or the cookie-hash upstream. Rewrites the directives in place so nginx.conf stays the one
// source; a directive that is not found exactly as expected throws, so the file and this
// code cannot drift apart silently.
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

export const nginxConfigFile = fileURLToPath(new URL('../nginx/nginx.conf', import.meta.url))

export interface NginxConfigOptions {
  /** Port nginx listens on (127.0.0.1). */
  listenPort: number
  /** Ports of the nodes (127.0.0.1), in upstream order. */
  nodePorts: readonly number[]
  /** proxy_read_timeout and proxy_send_timeout, e.g. '3600s' or '1s'. */
  proxyTimeout?: string
  /** 'ip' keeps `ip_hash`; 'cookie' switches to the commented `hash $cookie_rt_affinity consistent`. */
  affinity?: 'ip' | 'cookie'
}

function replaceOnce (text: string, pattern: RegExp, replacement: string): string {
  const matches = text.match(new RegExp(pattern.source, 'gm'))
  if (matches?.length !== 1) throw new Error(`nginx.conf: expected exactly one match of ${pattern}, found ${matches?.length ?? 0}`)
  return text.replace(new RegExp(pattern.source, 'm'), replacement)
}

export function renderNginxConfig (template: string, options: NginxConfigOptions): string {
  let text = replaceOnce(template, /^(\s*)listen 127\.0\.0\.1:\d+;$/, `$1listen 127.0.0.1:${options.listenPort};`)

  // Every node gets the first server line's parameters (max_fails=0: see nginx.conf).
  const serverLines = /^(\s*)server 127\.0\.0\.1:\d+( [^;\n]+)?;\n(\s*server 127\.0\.0\.1:\d+( [^;\n]+)?;\n)*/m
  const [, indent, parameters = ''] = serverLines.exec(text) ?? []
  if (indent === undefined) throw new Error('nginx.conf: no upstream server lines')
  text = replaceOnce(text, serverLines, options.nodePorts.map((port) => `${indent}server 127.0.0.1:${port}${parameters};\n`).join(''))

  if (options.proxyTimeout !== undefined) {
    text = replaceOnce(text, /^(\s*)proxy_read_timeout \S+;$/, `$1proxy_read_timeout ${options.proxyTimeout};`)
    text = replaceOnce(text, /^(\s*)proxy_send_timeout \S+;$/, `$1proxy_send_timeout ${options.proxyTimeout};`)
  }
  if (options.affinity === 'cookie') {
    text = replaceOnce(text, /^(\s*)ip_hash;$/, '$1# ip_hash;')
    text = replaceOnce(text, /^(\s*)# (hash \$cookie_rt_affinity consistent;)$/, '$1$2')
  }
  return text
}

export async function loadNginxConfig (options: NginxConfigOptions): Promise<string> {
  return renderNginxConfig(await readFile(nginxConfigFile, 'utf8'), options)
}
