// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// Typed messages: a protobuf message class (protobufjs static code, or anything with the same
// encode/decode shape) is bound to a frame type id once, then used to route and to send:
//   server.handle(demo.Login, (conn, login) => ...)   // login: demo.Login
//   conn.send(demo.LoginReply, { ok: true })
import { check } from './errors';

/** The part of a protobufjs generated class evwire uses. `T` is the decoded message type and
 * `I` the plain-object shape `encode` accepts. */
export interface MessageClass<T = unknown, I = T> {
  decode(reader: Uint8Array): T;
  encode(message: I): { finish(): Uint8Array };
}

const ids = new WeakMap<object, number>();
const names = new Map<number, string>();

/** Binds `cls` to frame type `id` (1..65535; 0 is the runtime's). The generated code calls this
 * for every entry of a proto file's MessageType enum; call it for your own classes. */
export function defineMessageType<T, I>(cls: MessageClass<T, I>, id: number): void {
  check(Number.isInteger(id) && id >= 1 && id <= 0xffff, `message type id must be 1..65535, got ${id}`);
  check(typeof cls?.decode === 'function' && typeof cls?.encode === 'function', 'not a message class', cls);
  const prev = ids.get(cls);
  check(prev === undefined || prev === id, `message class already bound to type ${prev}`);
  ids.set(cls, id);
  names.set(id, (cls as { name?: string }).name ?? `type ${id}`);
}

/** The frame type id of `cls`, or undefined if it was never bound. */
export function messageTypeId(cls: object): number | undefined {
  return ids.get(cls);
}

/** Like messageTypeId, but throws InvalidArgumentError when `cls` has no id. */
export function requireTypeId(cls: object): number {
  const id = ids.get(cls);
  check(id !== undefined, `${(cls as { name?: string }).name ?? 'class'} has no frame type id; call defineMessageType()`);
  return id;
}

/**
 * A task's name with the types of its payload and reply, shared by the module that defines the
 * task and the ones that schedule it: `define(t, fn)` and `schedule(t, payload)` are then
 * checked against each other. With protobuf classes (`request`, `reply`), the payload and the
 * reply travel as protobuf bytes, encoded and decoded by evwire on each side.
 */
export interface TaskType<P = unknown, R = unknown, PI = P, RI = R> {
  readonly name: string;
  /** P: what the handler receives; PI: what schedule() accepts (a protobuf class's decoded
   * and plain-object shapes; the same type for untyped payloads). R and RI: likewise for the
   * reply, as schedule() resolves with it and as the handler returns it. */
  readonly request?: MessageClass<P, PI>;
  readonly reply?: MessageClass<R, RI>;
}
