/**
 * The emulator as every figure starts it: stage throttling at its highest setting (the default
 * 100 requests/s would throttle thousands of handshakes, and the figures measure the broadcast
 * path, not that limit), quiet except for failures, and its WebSocket endpoint spelled
 * 127.0.0.1 so that thousands of clients do not each resolve `localhost`.
 */
import { startEmulator, type Emulator } from "../../local/emulator";
import type { EmulatorOptions } from "../../local/options";
import type { EmulatorSeams } from "../../local/seams";
import { SETTINGS } from "../../runtime/config/settings";

export interface BenchEmulator extends Emulator {
  /** `ws://127.0.0.1:PORT/STAGE` */
  url: string;
}

export async function startBenchEmulator(options: EmulatorOptions, progress: (line: string) => void, seams: EmulatorSeams = {}): Promise<BenchEmulator> {
  // Per-invocation log lines would flood the output; handler and HTTP failures must not be missed.
  const log = (line: string) => {
    if (/"emulator":"(handlerError|httpError)"/.test(line)) progress(line);
  };
  const emulator = await startEmulator({
    port: 0,
    throttleRateLimit: SETTINGS.throttleRateLimit.max,
    throttleBurstLimit: SETTINGS.throttleBurstLimit.max,
    ...options,
    log,
  }, seams);
  // Added to the emulator itself: its methods live on its class, which a spread would not copy.
  return Object.assign(emulator, { url: emulator.endpoint.replace("//localhost:", "//127.0.0.1:") });
}
