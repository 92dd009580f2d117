// The end of a history channel's frame: its offset and epoch, after the fields every message
// frame has. Brokers append it where the offset becomes known (the Redis script builds the
// same text in Lua), so the frame is still serialized once.

/** Epochs are made of these characters only, so they go into JSON without escaping. */
export const EPOCH_PATTERN = /^[a-z0-9]{1,32}$/

/** `,"offset":N,"epoch":"E"}` */
export function historyFrameTail (offset: number, epoch: string): string {
  return ',"offset":' + offset + ',"epoch":"' + epoch + '"}'
}

const OFFSET_FIELD = ',"offset":'

/** The offset of a frame that ends with `historyFrameTail`, or undefined. Reads only the tail. */
export function offsetOfFrame (frame: string): number | undefined {
  const at = frame.lastIndexOf(OFFSET_FIELD)
  if (at === -1) return undefined
  const end = frame.indexOf(',', at + OFFSET_FIELD.length)
  const offset = Number(frame.slice(at + OFFSET_FIELD.length, end))
  return Number.isSafeInteger(offset) ? offset : undefined
}
