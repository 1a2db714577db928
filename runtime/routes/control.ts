/**
 * `$default`'s answers to control frames (runtime/contract/control-frame.ts): each `_op` is one
 * entry of CONTROL_OPS, answered to the sender alone. An unknown or malformed `_op` gets
 * `_error` code `BadRequest` naming it.
 */
import { controlAnswer, unexpectedField, type ClassifiedFrame, type ControlRequest } from "../contract/control-frame";
import { errorFrame } from "../contract/message";
import type { HandlerDeps, InvocationLog } from "./deps";
import { answerHistory } from "./history-op";
import { answerMembers } from "./members";

/** Who asked, and when: what every control op may need besides its request. */
export interface ControlContext {
  sender: string;
  now: number;
}

/** A control op's answer: the frame for the sender and what the invocation's log line adds. */
export interface ControlAnswer {
  frame: string;
  entry: Partial<InvocationLog>;
}

type ControlOp = (deps: HandlerDeps, request: ControlRequest, context: ControlContext) => ControlAnswer | Promise<ControlAnswer>;

/** `{"_op":"ping"}` → `{"_pong":true,…}`: a keep-alive that also counts as activity for the idle timeout. */
function answerPing(_deps: HandlerDeps, request: ControlRequest, context: ControlContext): ControlAnswer {
  const field = unexpectedField(request.fields, []);
  if (field !== undefined) return badRequest(`ping takes no fields, got "${field}"`, context.now);
  return { frame: controlAnswer("_pong", true, context.now), entry: {} };
}

const CONTROL_OPS: Record<string, ControlOp> = {
  ping: answerPing,
  history: answerHistory,
  members: answerMembers,
};

/** The sender's answer to a control or malformed frame. */
export async function answerControl(
  deps: HandlerDeps,
  frame: Exclude<ClassifiedFrame, { kind: "data" }>,
  context: ControlContext,
): Promise<ControlAnswer> {
  if (frame.kind === "malformed") return badRequest(frame.message, context.now);
  const op = Object.hasOwn(CONTROL_OPS, frame.request.op) ? CONTROL_OPS[frame.request.op] : undefined;
  if (op === undefined) return badRequest(`unknown _op ${JSON.stringify(frame.request.op)}; known: ${Object.keys(CONTROL_OPS).join(", ")}`, context.now);
  const answer = await op(deps, frame.request, context);
  return { frame: answer.frame, entry: { op: frame.request.op, ...answer.entry } };
}

/** `_error` code `BadRequest`: the request itself is wrong, and nothing was done. */
function badRequest(message: string, now: number): ControlAnswer {
  return { frame: errorFrame("BadRequest", message, now), entry: { error: "BadRequest" } };
}
