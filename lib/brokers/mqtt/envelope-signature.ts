// Signed envelopes for the MQTT broker's `secret` option. Anything that can publish under the
// topic prefix could otherwise forge frames for subscribers and run cluster commands on
// `!control`. The signature covers the topic too, so a signed frame cannot be moved to another
// channel; it cannot stop the replay of a captured envelope on its own topic (broker ACLs do).
//
//   s1|<HMAC-SHA256 of topic "\n" envelope, base64url (43 chars)><envelope>
import { createHmac, timingSafeEqual } from 'node:crypto'

const SIGNED = 's1|'
const SIGNATURE_LENGTH = 43

/** Shortest secret accepted: a short one can be guessed offline from one captured envelope. */
export const MIN_SECRET_LENGTH = 16

export class EnvelopeSignature {
  readonly #key: Buffer

  constructor (secret: string) {
    this.#key = Buffer.from(secret, 'utf8')
  }

  /** The payload to publish on `topic`: computed once per publish, whatever the number of nodes. */
  sign (topic: string, envelope: string): string {
    return SIGNED + this.#mac(topic, envelope) + envelope
  }

  /** The envelope a payload received on `topic` carries, or undefined when unsigned or badly signed. */
  open (topic: string, payload: string): string | undefined {
    if (!payload.startsWith(SIGNED) || payload.length < SIGNED.length + SIGNATURE_LENGTH) return undefined
    const envelope = payload.slice(SIGNED.length + SIGNATURE_LENGTH)
    const given = Buffer.from(payload.slice(SIGNED.length, SIGNED.length + SIGNATURE_LENGTH), 'utf8')
    const expected = Buffer.from(this.#mac(topic, envelope), 'utf8')
    return given.length === expected.length && timingSafeEqual(given, expected) ? envelope : undefined
  }

  #mac (topic: string, envelope: string): string {
    return createHmac('sha256', this.#key).update(topic).update('\n').update(envelope).digest('base64url')
  }
}
