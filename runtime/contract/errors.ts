/** Error helpers shared by the handlers, the fan-out and the emulator. */

/** What logs and counts say of an error: its name, never its message (messages may quote contents). */
export function errorName(err: unknown): string {
  return err instanceof Error ? err.name : "Unknown";
}
