/**
 * The `$connect` function's host: the handlers with the token verifier. A module of its own
 * because Pulumi's serializer captures every export of a module a function uses, and only this
 * function may carry jose (runtime/access/token-verifier.ts loads it).
 */
import type { RouteHandler } from "../contract/websocket-event";
import { checkAccessSettings } from "../access/token-settings";
import { createTokenVerifier, type TokenVerifier } from "../access/token-verifier";
import { createConnectHandler } from "./lambda";
import { ENV, readRuntimeConfig, type RuntimeConfig } from "../config/environment";

/** `$connect`'s token verifier for `config`; undefined when no JWT setting is on. */
export function tokenVerifierFor(config: RuntimeConfig): TokenVerifier | undefined {
  const settings = checkAccessSettings(ENV, config);
  return settings === undefined ? undefined : createTokenVerifier(settings);
}

/** What the `$connect` Lambda's `callbackFactory` calls: config from `process.env`, then its handler. */
export function connectFromEnvironment(): RouteHandler {
  const config = readRuntimeConfig(process.env);
  return createConnectHandler(config, { verifyToken: tokenVerifierFor(config) });
}
