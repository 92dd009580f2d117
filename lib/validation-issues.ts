// Describes why a value broke its schema, at a cost bounded whatever the value's size.
// TypeBox's `Errors()` builds the whole error list before returning (no lazy or first-only
// form in typebox 1.x), so on a large value it costs far more than `Check()` did: a 64 KB
// invalid frame took ~35 ms. Only values small enough for that to stay cheap get the list.
import type { Validator } from 'typebox/compile'

/** One entry of an `invalid_message` error's `details`: where, and what is wrong. */
export interface ValidationIssue {
  path: string
  message: string
}

/** Issues listed in `details`; a huge value cannot make the error frame huge. */
export const MAX_ISSUES = 10

/** Values with more nodes (objects, arrays, primitives) than this get one generic issue. */
export const MAX_DETAILED_NODES = 100

/** Strings longer than this count as a large value too (pattern checks scan them). */
const MAX_DETAILED_STRING = 4096

/** True when `value` has at most `limit` nodes; stops counting once over, so costs at most `limit` steps. */
export function isSmallValue (value: unknown, limit = MAX_DETAILED_NODES): boolean {
  let seen = 0
  const pending: unknown[] = [value]
  while (pending.length !== 0) {
    const node = pending.pop()
    if (++seen > limit) return false
    if (typeof node === 'string') {
      if (node.length > MAX_DETAILED_STRING) return false
    } else if (Array.isArray(node)) {
      if (node.length + seen > limit) return false
      for (const item of node) pending.push(item)
    } else if (node !== null && typeof node === 'object') {
      let keys = 0
      for (const key in node) {
        if (++keys + seen > limit) return false
        pending.push((node as Record<string, unknown>)[key])
      }
    }
  }
  return true
}

/**
 * At most MAX_ISSUES issues for a value `validator` refused. A large value gets one issue,
 * `{ path: '', message: summary }`, instead of the list it would be too costly to compute.
 */
export function describeIssues (validator: Validator, value: unknown, summary: string): ValidationIssue[] {
  if (!isSmallValue(value)) return [{ path: '', message: summary }]
  const issues: ValidationIssue[] = []
  for (const error of validator.Errors(value)) {
    issues.push({ path: error.instancePath, message: error.message })
    if (issues.length === MAX_ISSUES) break
  }
  return issues
}
