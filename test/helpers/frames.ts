/** The exact text the plugin documents for a publish (`{type:'message', channel, data, ts}`), given the `ts` it carried. */
export function expectedFrame (channel: string, data: unknown, ts: number): string {
  return `{"type":"message","channel":${JSON.stringify(channel)},"data":${JSON.stringify(data)},"ts":${ts}}`
}
