/** Typed listeners: `on` returns the function that removes the listener. */
import type { Clock } from "./options";

type Listener<T> = (value: T) => void;

export class Emitter<E extends object> {
  private readonly listeners = new Map<keyof E, Set<Listener<never>>>();

  constructor(private readonly clock: Clock) {}

  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    const set = this.listeners.get(event) ?? new Set();
    this.listeners.set(event, set);
    // Wrapped, so that the same function added twice is two listeners and each removal removes one.
    const entry: Listener<E[K]> = (value) => listener(value);
    set.add(entry);
    return () => void set.delete(entry);
  }

  emit<K extends keyof E>(event: K, value: E[K]): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        (listener as Listener<E[K]>)(value);
      } catch (err) {
        // As an EventTarget does: the error is reported, and the client and other listeners go on.
        this.clock.setTimeout(() => {
          throw err;
        }, 0);
      }
    }
  }
}
