// Network awareness in browsers: the `online` / `offline` events of window and the page's
// visibility. Outside a browser (Node) there is nothing to watch and the client never waits.

export interface NetworkHandlers {
  online: () => void
  offline: () => void
  /** The page became visible after being hidden for `hiddenFor` ms. */
  visible: (hiddenFor: number) => void
}

interface BrowserGlobals {
  addEventListener?: (type: string, listener: () => void) => void
  removeEventListener?: (type: string, listener: () => void) => void
  navigator?: { onLine?: boolean }
  document?: {
    visibilityState?: string
    addEventListener: (type: string, listener: () => void) => void
    removeEventListener: (type: string, listener: () => void) => void
  }
}

const browser = globalThis as BrowserGlobals

/** True only when the browser says it has no network; unknown counts as online. */
export function isOffline (): boolean {
  return browser.navigator?.onLine === false
}

/** Starts watching; returns a function that stops. A no-op outside browsers. */
export function watchNetwork (handlers: NetworkHandlers): () => void {
  const { addEventListener, removeEventListener, document } = browser
  if (typeof addEventListener !== 'function' || typeof removeEventListener !== 'function') return () => {}
  let hiddenSince: number | undefined
  const online = (): void => handlers.online()
  const offline = (): void => handlers.offline()
  const visibility = (): void => {
    if (document?.visibilityState === 'hidden') {
      hiddenSince = performance.now()
    } else if (hiddenSince !== undefined) {
      const hiddenFor = performance.now() - hiddenSince
      hiddenSince = undefined
      handlers.visible(hiddenFor)
    }
  }
  addEventListener.call(globalThis, 'online', online)
  addEventListener.call(globalThis, 'offline', offline)
  document?.addEventListener('visibilitychange', visibility)
  return () => {
    removeEventListener.call(globalThis, 'online', online)
    removeEventListener.call(globalThis, 'offline', offline)
    document?.removeEventListener('visibilitychange', visibility)
  }
}
