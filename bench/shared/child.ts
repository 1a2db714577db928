/**
 * A bench child process (a .ts file run through tsx, named by its path under bench/) spoken to over IPC: each request gets
 * exactly one reply, in order.
 */
import { fork, type ChildProcess } from "node:child_process";
import path from "node:path";

export interface Child<Request, Reply> {
  request(message: Request): Promise<Reply>;
  /** Sends a final message if given (the child then exits), else disconnects; waits for the exit. */
  finish(message?: Request): Promise<void>;
}

export function forkChild<Request, Reply>(file: string): Child<Request, Reply> {
  const child: ChildProcess = fork(path.join(__dirname, "..", file), [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const waiting: Array<{ resolve: (reply: Reply) => void; reject: (err: Error) => void }> = [];
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.on("message", (reply) => waiting.shift()?.resolve(reply as Reply));
  child.once("exit", (code, signal) => {
    for (const pending of waiting.splice(0)) pending.reject(new Error(`${file} exited (${code ?? signal}) before replying`));
  });
  return {
    request(message) {
      return new Promise<Reply>((resolve, reject) => {
        waiting.push({ resolve, reject });
        child.send(message as object);
      });
    },
    async finish(message) {
      if (child.connected) {
        if (message === undefined) child.disconnect();
        else child.send(message as object);
      }
      await exited;
    },
  };
}
