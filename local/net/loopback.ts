/**
 * The emulator's own control paths (publish, the management API) check no signature, so they
 * answer only peers on this machine, whatever address the server listens on.
 */
import { isIPv4 } from "node:net";
import type { ServerResponse } from "node:http";

/** True for 127.0.0.0/8, ::1 and IPv4-mapped 127.x (`::ffff:127.0.0.1`). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.toLowerCase().startsWith("::ffff:") ? address.slice("::ffff:".length) : address;
  if (isIPv4(v4)) return v4.startsWith("127.");
  return address === "::1" || address === "0:0:0:0:0:0:0:1";
}

/**
 * True for a peer on this machine: a loopback address, or the one address the server listens on
 * when it listens on one (its own handlers post from there; no other machine has it).
 */
export function isLocalPeer(address: string | undefined, listenHost: string): boolean {
  if (isLoopbackAddress(address)) return true;
  const wildcard = listenHost === "0.0.0.0" || listenHost === "::";
  return !wildcard && address !== undefined && address.replace(/^::ffff:/i, "") === listenHost;
}

/** 403 as AWS words a refused call, for a peer that is not on this machine. */
export function refuseRemote(res: ServerResponse): void {
  res.statusCode = 403;
  res.setHeader("x-amzn-ErrorType", "ForbiddenException");
  res.setHeader("Content-Type", "application/json");
  res.end(JSON.stringify({ message: "Forbidden: the emulator's publish and management paths answer peers on this machine only" }));
}
