/**
 * Starts an emulator for one test (free port, closed at teardown) and captures its log lines so
 * tests can wait for a handler invocation instead of sleeping.
 */
import type { ExecutionContext } from "ava";
import type { Handlers } from "../../runtime/handlers";
import { createHandlers, readRuntimeConfig } from "../../runtime/lambda";
import { startEmulator, type Emulator, type EmulatorOptions } from "../../local/emulator";
import { resolveOptions, runtimeEnvironment } from "../../local/options";
import { LOCAL_AWS } from "../../local/store";
import { within } from "./clients";

export type LogEntry = Record<string, unknown>;

export interface LogCapture {
  lines: string[];
  log(line: string): void;
  entries(): LogEntry[];
  /** The first entry (logged already or later) that matches. */
  waitFor(matches: (entry: LogEntry) => boolean, what: string): Promise<LogEntry>;
}

export function captureLog(): LogCapture {
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const entries = () => lines.map((line) => JSON.parse(line) as LogEntry);
  return {
    lines,
    log(line) {
      lines.push(line);
      for (const wake of [...waiters]) wake();
    },
    entries,
    waitFor(matches, what) {
      return within(
        new Promise<LogEntry>((resolve) => {
          const check = () => {
            const found = entries().find(matches);
            if (!found) return;
            waiters.delete(check);
            resolve(found);
          };
          waiters.add(check);
          check();
        }),
        what,
      );
    },
  };
}

/** Waits for the handler log line of `route` for `connectionId`. */
export function invocation(logs: LogCapture, route: string, connectionId: string): Promise<LogEntry> {
  return logs.waitFor((entry) => entry.route === route && entry.connectionId === connectionId, `${route} of ${connectionId}`);
}

export async function startTestEmulator(
  t: ExecutionContext,
  options: EmulatorOptions = {},
): Promise<{ emulator: Emulator; logs: LogCapture }> {
  const logs = captureLog();
  const emulator = await startEmulator({ port: 0, log: logs.log, ...options });
  t.teardown(() => emulator.close());
  return { emulator, logs };
}

/**
 * An emulator whose handlers are `wrap(real)`, where `real` are the handlers the emulator would
 * build itself (same environment, same table, same management endpoint). Lets a test inject a
 * fault or watch events while everything else stays real.
 */
export async function startWithWrappedHandlers(
  t: ExecutionContext,
  wrap: (real: Handlers) => Handlers,
  options: EmulatorOptions = {},
): Promise<{ emulator: Emulator; logs: LogCapture }> {
  let wrapped: Handlers | undefined;
  const current = (): Handlers => {
    if (!wrapped) throw new Error("a connection arrived before the test installed its handlers");
    return wrapped;
  };
  const { emulator, logs } = await startTestEmulator(t, {
    ...options,
    handlers: {
      connect: (event) => current().connect(event),
      message: (event) => current().message(event),
      disconnect: (event) => current().disconnect(event),
    },
  });
  const environment = runtimeEnvironment(resolveOptions({ ...options, port: emulator.port }), {
    management: emulator.managementEndpoint,
    dynamo: emulator.dynamoEndpoint,
  });
  const real = createHandlers(readRuntimeConfig(environment), {
    credentials: LOCAL_AWS.credentials,
    log: (entry) => logs.log(JSON.stringify(entry)),
  });
  wrapped = wrap(real);
  return { emulator, logs };
}
