/** A tiny typed event emitter: `Events` maps each event name to its payload. */
export class Emitter<Events> {
  private readonly listeners = new Map<keyof Events, Set<(payload: never) => void>>()

  /** Calls `listener` for every `event` from now on; returns the function that stops it. */
  on<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): () => void {
    let set = this.listeners.get(event)
    if (!set) this.listeners.set(event, (set = new Set()))
    set.add(listener)
    return () => void set.delete(listener)
  }

  protected emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        ;(listener as (payload: Events[K]) => void)(payload)
      } catch (error) {
        // A throwing listener must not break the connection's bookkeeping; it is still reported.
        queueMicrotask(() => {
          throw error
        })
      }
    }
  }
}
