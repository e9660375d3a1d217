// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// Frames for `evwire client`: the 12-byte header of docs/protocol.md (u32 length, u16 type,
// u16 flags, u32 seq, big-endian), bodies built from the command line (protobuf JSON, text, hex,
// a file) and replies turned back into something a person can read.
import * as fs from 'fs';
import { demo, messageTypeId, type MessageClass } from '../index';
import { UsageError } from './args';

export const HEADER_BYTES = 12;

export interface Frame {
  type: number;
  flags: number;
  seq: number;
  body: Buffer;
}

/** A protobuf class as protobufjs' static code generates it (the parts used here). */
interface GeneratedClass extends MessageClass<object, object> {
  name: string;
  fromObject(o: Record<string, unknown>): object;
  toObject(m: object, o?: object): Record<string, unknown>;
  prototype: Record<string, unknown>;
}

interface KnownMessage {
  name: string;
  id: number;
  cls: GeneratedClass;
}

// The demo proto's messages, by normalised name (`loginreply`) and by frame type id.
const byName = new Map<string, KnownMessage>();
const byId = new Map<number, KnownMessage>();
for (const [name, value] of Object.entries(demo)) {
  if (typeof value !== 'function') continue;
  const id = messageTypeId(value);
  if (id === undefined) continue;
  const m = { name, id, cls: value as unknown as GeneratedClass };
  byName.set(normalise(name), m);
  byId.set(id, m);
}

function normalise(name: string): string {
  return name.toLowerCase().replace(/_/g, '');
}

/** Names of the demo messages with their type ids, for help and error text. */
export function knownMessages(): string {
  return [...byId.values()].map((m) => `${m.name}=${m.id}`).join(', ');
}

/** The demo message a type id stands for, if any. */
export function messageById(id: number): KnownMessage | undefined {
  return byId.get(id);
}

/** Parses one FRAME argument, `TYPE` or `TYPE=BODY` (see `evwire client --help`). */
export function parseFrameArg(arg: string): { type: number; body: Buffer; name?: string } {
  const eq = arg.indexOf('=');
  const typeText = eq >= 0 ? arg.slice(0, eq) : arg;
  const bodyText = eq >= 0 ? arg.slice(eq + 1) : undefined;
  let msg: KnownMessage | undefined;
  let type: number;
  if (/^\d+$/.test(typeText) || /^0x[0-9a-f]+$/i.test(typeText)) {
    type = Number(typeText);
    if (!(type >= 1 && type <= 0xffff)) throw new UsageError(`frame "${arg}": type ${typeText} is not 1..65535 (0 is reserved)`);
    msg = byId.get(type);
  } else {
    msg = byName.get(normalise(typeText));
    if (msg === undefined) {
      throw new UsageError(`frame "${arg}": "${typeText}" is neither a type id (1..65535) nor a demo message (${knownMessages()})`);
    }
    type = msg.id;
  }
  if (bodyText === undefined || bodyText === '') {
    return { type, body: msg === undefined ? Buffer.alloc(0) : encode(msg, {}, arg), name: msg?.name };
  }
  if (bodyText.startsWith('hex:')) return { type, body: hex(bodyText.slice(4), arg), name: msg?.name };
  if (bodyText.startsWith('text:')) return { type, body: Buffer.from(bodyText.slice(5)), name: msg?.name };
  let content: Buffer;
  if (bodyText.startsWith('@')) {
    const file = bodyText.slice(1);
    try {
      content = fs.readFileSync(file);
    } catch (err) {
      throw new UsageError(`frame "${arg}": cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  } else {
    content = Buffer.from(bodyText);
  }
  if (msg === undefined) return { type, body: content };
  let json: unknown;
  try {
    json = JSON.parse(content.toString('utf8'));
  } catch (err) {
    throw new UsageError(`frame "${arg}": the body of ${msg.name} is not JSON: ${(err as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new UsageError(`frame "${arg}": the body of ${msg.name} must be a JSON object`);
  }
  return { type, body: encode(msg, json as Record<string, unknown>, arg), name: msg.name };
}

function hex(text: string, arg: string): Buffer {
  const s = text.replace(/[\s:]/g, '');
  if (!/^([0-9a-f]{2})*$/i.test(s)) throw new UsageError(`frame "${arg}": "${text}" is not hex (pairs of 0-9a-f)`);
  return Buffer.from(s, 'hex');
}

function encode(msg: KnownMessage, json: Record<string, unknown>, arg: string): Buffer {
  const fields = Object.keys(msg.cls.prototype).filter((k) => typeof msg.cls.prototype[k] !== 'function');
  for (const k of Object.keys(json)) {
    // The proto's own spelling (sent_at_ns) names the same field as the generated one (sentAtNs).
    const camel = k.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
    if (!fields.includes(k) && fields.includes(camel) && !(camel in json)) {
      json[camel] = json[k];
      delete json[k];
      continue;
    }
    if (!fields.includes(k)) {
      throw new UsageError(`frame "${arg}": ${msg.name} has no field "${k}" (fields: ${fields.join(', ')})`);
    }
  }
  try {
    return Buffer.from(msg.cls.encode(msg.cls.fromObject(json)).finish());
  } catch (err) {
    throw new UsageError(`frame "${arg}": cannot encode ${msg.name}: ${(err as Error).message}`);
  }
}

/** The wire bytes of one frame. */
export function encodeFrame(f: Frame): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  h.writeUInt32BE(f.body.length, 0);
  h.writeUInt16BE(f.type, 4);
  h.writeUInt16BE(f.flags, 6);
  h.writeUInt32BE(f.seq >>> 0, 8);
  return Buffer.concat([h, f.body]);
}

/** Cuts frames out of a byte stream. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  push(data: Buffer): Frame[] {
    this.buf = this.buf.length === 0 ? data : Buffer.concat([this.buf, data]);
    const out: Frame[] = [];
    while (this.buf.length >= HEADER_BYTES) {
      const len = this.buf.readUInt32BE(0);
      if (this.buf.length < HEADER_BYTES + len) break;
      out.push({
        type: this.buf.readUInt16BE(4),
        flags: this.buf.readUInt16BE(6),
        seq: this.buf.readUInt32BE(8),
        body: Buffer.from(this.buf.subarray(HEADER_BYTES, HEADER_BYTES + len)),
      });
      this.buf = this.buf.subarray(HEADER_BYTES + len);
    }
    return out;
  }
}

/** A reply as plain data: the body decoded as JSON when its type is a demo message, else as
 * text (valid printable UTF-8) or hex. */
export interface DescribedFrame {
  type: number;
  name?: string;
  seq: number;
  flags: number;
  bytes: number;
  body?: Record<string, unknown>;
  text?: string;
  hex?: string;
  decodeError?: string;
}

export function describeFrame(f: Frame): DescribedFrame {
  const d: DescribedFrame = { type: f.type, seq: f.seq, flags: f.flags, bytes: f.body.length };
  const msg = byId.get(f.type);
  if (msg !== undefined) {
    d.name = msg.name;
    try {
      d.body = msg.cls.toObject(msg.cls.decode(f.body), { longs: String, bytes: String, enums: String, json: true });
      return d;
    } catch (err) {
      d.decodeError = (err as Error).message;
    }
  }
  const text = f.body.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(f.body) && !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) d.text = text;
  else d.hex = f.body.toString('hex');
  return d;
}

/** One human-readable line for a reply. */
export function formatFrame(d: DescribedFrame): string {
  const head = `${d.name !== undefined ? `${d.name} (type ${d.type})` : `type ${d.type}`} seq ${d.seq} flags 0x${d.flags.toString(16)}`;
  if (d.body !== undefined) return `${head}: ${JSON.stringify(d.body)}`;
  const note = d.decodeError !== undefined ? ` (not a valid ${d.name}: ${d.decodeError})` : '';
  if (d.text !== undefined) return `${head}, ${d.bytes} bytes${note}: ${JSON.stringify(d.text)}`;
  return `${head}, ${d.bytes} bytes${note}: hex ${d.hex}`;
}
