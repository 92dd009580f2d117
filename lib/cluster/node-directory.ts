// Which nodes of the cluster this node has heard from recently. Nodes announce themselves on
// the control channel when they start and every `announceInterval` ms after; a node not heard
// from for `ANNOUNCES_MISSED` intervals is forgotten, and one that stops cleanly says so.
// A cluster-wide command waits for the nodes known here when it is sent: one that does not
// answer in time is reported missing.

/** Announce intervals a node may stay silent before it is forgotten. */
export const ANNOUNCES_MISSED = 3

export class NodeDirectory {
  readonly #lastSeen = new Map<string, number>()
  readonly #forgetAfter: number

  constructor (announceInterval: number) {
    this.#forgetAfter = announceInterval * ANNOUNCES_MISSED
  }

  /** Records a sign of life; true when the node was not known. */
  seen (nodeId: string, now = Date.now()): boolean {
    const known = this.#lastSeen.has(nodeId)
    this.#lastSeen.set(nodeId, now)
    return !known
  }

  left (nodeId: string): void {
    this.#lastSeen.delete(nodeId)
  }

  /** Nodes heard from within the window, oldest entries dropped on the way. */
  known (now = Date.now()): string[] {
    const nodes: string[] = []
    for (const [nodeId, at] of this.#lastSeen) {
      if (now - at > this.#forgetAfter) this.#lastSeen.delete(nodeId)
      else nodes.push(nodeId)
    }
    return nodes
  }
}
