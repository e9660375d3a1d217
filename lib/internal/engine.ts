// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The JavaScript side of the rings (docs/protocol.md): one Engine per JS thread (port). It
// drains the IO->JS rings when the addon calls `drain` (one N-API call per wakeup, whatever
// the number of records), and writes JS->IO records straight into ring memory; the sends of one
// tick are published by a single `flush` call. Nothing here is per-message native work.
import { Buffer } from 'buffer';
import type { NativeAttach, NativeRuntime } from '../native';
import {
  CTL_IN_HEAD,
  CTL_IN_TAIL,
  CTL_OUT_HEAD,
  CTL_OUT_TAIL,
  CTL_STRIDE,
  FRAME_HEADER_BYTES,
  REC_CLOSE,
  REC_DATA,
  REC_FRAMES,
  REC_DRAIN,
  REC_SECURE,
  REC_ACCEPT_ERROR,
  REC_LINK_FAIL,
  REC_DESTROY,
  REC_END,
  REC_FAULT,
  REC_F_RESPONSE_END,
  REC_HTTP_REQ,
  REC_HTTP_RES,
  REC_HEADER_BYTES,
  REC_OPEN,
  REC_PAD,
  REC_SEND,
  REC_UNLISTEN,
  RING_HEADER_BYTES,
  RING_OFF_CAP,
  RING_OFF_MAX_BODY,
  SHM_IO_CTL_BYTES,
  SHM_IO_STATS,
  SHM_SLOT_BYTES,
  SHM_SLOT_BYTES_IN,
  SHM_SLOT_BYTES_OUT,
  SHM_SLOT_STATE,
  SLOT_STATE_ENCRYPTED,
  SHM_SLOT_MSGS_IN,
  SHM_SLOT_WIN_BYTES,
  SHM_SLOT_WIN_MSGS,
  SHM_SLOT_WIN_START,
  REC_BAN,
  REC_TASK,
  REC_REPLY,
  REC_ADMIT,
  REC_VERDICT,
  REC_CONN_OPT,
  REC_F_MORE,
  SHM_SLOT_PORT,
  SHM_PORT_CTL_BYTES,
  SHM_PORT_EPOCH,
  SHM_PORT_CONNS,
  SHM_PORT_ATTACHED,
  KICK_MESSAGES,
  BAN_MESSAGES,
  REC_DGRAM,
  REC_DGRAM_SEND,
  DGRAM_PREFIX_BYTES,
} from '../gen/wire';
import type { BanInfo, KickInfo } from '../limits';
import { kClosed, kData, kDgram, kDrain, kFault, kGen, kHttpData, kHttpResData, kIdLo, kIo, kKicked, kPeerEnd, kSecure } from './symbols';

/** A record that did not fit in its out ring yet; kept in order until it does. */
interface Pending {
  kind: number;
  idLo: number;
  gen: number;
  type: number;
  seq: number;
  bytes: Uint8Array | null;
  off: number;
  owned: boolean;
  /** Record flags for the last record of this entry (RESPONSE_END; a task's encoding). */
  flags: number;
  /** Split over several records, all but the last marked MORE (tasks); SEND records are
   * simply concatenated by the IO thread. */
  frag: boolean;
}

/** Task records written before a flush is forced (see sendTask). */
const TASK_FLUSH_EVERY = 32;

/** What the engine hands the scheduler: task-ring records. */
export interface TaskSink {
  /** A TASK or REPLY from port `from`; `body` is a view valid until the call returns. */
  record(from: number, kind: number, flags: number, idLo: number, gen: number, type: number, seq: number, body: Buffer): void;
  /** Runs a task on the thread that owns connection `connId` (Connection.buddy()). */
  buddy(connId: number, task: string, payload?: unknown, opts?: { timeoutMs?: number }): Promise<unknown>;
}

/** What the engine delivers records to: the transport-level connection (lib/connection.ts)
 * implements it. The engine knows no more of a connection than this, so it sits below it. */
export interface ConnectionSink {
  readonly [kIo]: number;
  readonly [kGen]: number;
  readonly [kIdLo]: number;
  [kData](flags: number, type: number, seq: number, off: number, len: number): void;
  [kHttpData](flags: number, off: number, len: number): void;
  /** An HTTP_RES record or fragment (HTTP client links). */
  [kHttpResData](flags: number, off: number, len: number): void;
  [kPeerEnd](): void;
  /** The TLS or message-encryption handshake finished: SECURE_* flags and the record's texts
   * (protocol, cipher, ALPN, server name, NUL-separated). */
  [kSecure](flags: number, texts: string): void;
  [kFault](errno: number): void;
  [kDrain](): void;
  [kKicked](info: KickInfo): void;
  [kClosed](errno: number, sysErrno: number): void;
}

/** What the engine delivers a UDP socket's DGRAM records to (lib/udp.ts implements it). */
export interface DgramSink {
  /** A DGRAM record from IO thread `io`: frame flags, type and seq (0 for raw datagrams), and
   * its body at byte `off` of the segment, `len` bytes: the address block
   * (DGRAM_PREFIX_BYTES), then the payload. Valid until the call returns. */
  [kDgram](io: number, flags: number, type: number, seq: number, off: number, len: number): void;
}

/** What the engine needs from the runtime that owns it. */
export interface EngineHost<C extends ConnectionSink = ConnectionSink> {
  open(io: number, slot: number, gen: number, serverId: number, family: number, port: number, address: string): C | undefined;
  unlistened(serverId: number): void;
  acceptError(serverId: number, sysErrno: number): void;
  /** A connection attempt of link `linkId` failed (errno: a negative EW_* value). */
  linkFailed?(linkId: number, errno: number, sysErrno: number): void;
  banned(serverId: number, info: BanInfo): void;
  /** A new connection waits for admission (server.onAccept, bind by peer): answer with
   * engine.verdict(). */
  admit?(io: number, idLo: number, gen: number, serverId: number, family: number, port: number, address: string): void;
  /** A handler threw while records were dispatched (work threads log it and go on). */
  handlerError?(err: unknown, conn: C | undefined): void;
}

export class Engine<C extends ConnectionSink = ConnectionSink> {
  readonly nio: number;
  /** The IO loop runs inline on this thread. */
  readonly inline: boolean;
  /** Ports (JS threads) of the runtime and this thread's index among them. */
  readonly nports: number;
  readonly index: number;
  /** Channels: the IO threads' rings (0 .. nio-1), then the task rings with each port. */
  readonly nch: number;
  private readonly portCtlWord: number;
  /** Receives task-ring records; set by the scheduler. */
  tasks: TaskSink | null = null;
  /** Catch what handlers throw (work threads) instead of letting it reach 'uncaughtException'. */
  catchErrors = false;
  /** The connection whose record is being dispatched, for error reports. */
  private current: C | undefined = undefined;
  /** Fragments of a task record being reassembled, per channel. */
  private readonly frags: (Buffer[] | null)[] = [];
  readonly shm: Buffer;
  /** The segment's ArrayBuffer (shm starts at offset 0 of it). */
  readonly ab: ArrayBuffer;
  private readonly u32: Uint32Array;
  private readonly dv: DataView;
  private readonly ctl: Uint32Array;
  private readonly inData: number[] = [];
  private readonly inMask: number[] = [];
  private readonly outData: number[] = [];
  private readonly outMask: number[] = [];
  /** Largest body one out record may carry (per ring). */
  readonly outMax: number[] = [];
  /** Largest body one in record may carry (every in ring has the same size): the largest
   * message a codec that never fragments (lines) can deliver. */
  readonly inMax: number;
  private readonly slotWord: number[] = [];
  private readonly ioStatsByte: number[] = [];
  /** UDP sockets this thread owns, by id (their DGRAM records name it). */
  readonly dgrams = new Map<number, DgramSink>();
  /** conns[io][slot]: the live connection in that slot, as this thread knows it. */
  readonly conns: (C | undefined)[][] = [];
  private readonly pending: Pending[][] = [];
  private readonly pendingHead: number[] = [];
  private inDrain = false;
  /** A FRAMES record whose handling a throwing handler cut short: the frames from `fAt` to
   * `fEnd` (0: none) of connection slot `fSlot` (generation `fGen`) on IO channel `fK`. */
  private fK = 0;
  private fAt = 0;
  private fEnd = 0;
  private fSlot = 0;
  private fGen = 0;
  private flushQueued = false;
  /** Task records written since the last flush. */
  private taskUnflushed = 0;
  stopped = false;
  /** The local end of the connection whose OPEN is being handled (the Connection constructor
   * takes it from here). */
  openLocalPort = 0;
  openLocalAddress = '';

  constructor(
    private readonly nrt: NativeRuntime,
    a: NativeAttach,
    private readonly host: EngineHost<C>,
  ) {
    this.nio = a.ioThreads;
    this.inline = a.inline === true;
    this.shm = a.shm;
    const ab = a.shm.buffer as ArrayBuffer;
    if (a.shm.byteOffset !== 0) throw new Error('evwire: the shared segment must start its ArrayBuffer');
    this.ab = ab;
    this.u32 = new Uint32Array(ab, a.shm.byteOffset, a.shm.byteLength >>> 2);
    this.dv = new DataView(ab, a.shm.byteOffset, a.shm.byteLength);
    this.ctl = new Uint32Array(a.ctl);
    this.nports = a.ports;
    this.index = a.index;
    this.nch = a.channels;
    this.portCtlWord = a.portCtl >>> 2;
    this.inMax = this.u32[(a.inOffsets[0] + RING_OFF_MAX_BODY) >>> 2];
    for (let k = 0; k < this.nch; k++) {
      const inOff = a.inOffsets[k];
      const outOff = a.outOffsets[k];
      this.inData.push(inOff + RING_HEADER_BYTES);
      this.inMask.push(this.u32[(inOff + RING_OFF_CAP) >>> 2] - 1);
      this.outData.push(outOff + RING_HEADER_BYTES);
      this.outMask.push(this.u32[(outOff + RING_OFF_CAP) >>> 2] - 1);
      this.outMax.push(this.u32[(outOff + RING_OFF_MAX_BODY) >>> 2]);
      this.pending.push([]);
      this.pendingHead.push(0);
      this.frags.push(null);
      if (k >= this.nio) continue;
      this.slotWord.push((a.slots + k * a.slotsStride) >>> 2);
      this.ioStatsByte.push(a.ioCtl + k * SHM_IO_CTL_BYTES + SHM_IO_STATS);
      this.conns.push([]);
    }
  }

  /** Whether the runtime has task rings (work threads, or tasks between threads). */
  get hasTaskRings(): boolean {
    return this.nch > this.nio;
  }

  /** Port `j`'s attachment count (its epoch) and whether a thread is attached to it now. */
  epoch(j: number): number {
    return this.u32[this.portCtlWord + ((j * SHM_PORT_CTL_BYTES + SHM_PORT_EPOCH) >>> 2)];
  }

  attached(j: number): boolean {
    return this.u32[this.portCtlWord + ((j * SHM_PORT_CTL_BYTES + SHM_PORT_ATTACHED) >>> 2)] !== 0;
  }

  /** Connections bound to port `j` now. */
  portConnections(j: number): number {
    return this.u32[this.portCtlWord + ((j * SHM_PORT_CTL_BYTES + SHM_PORT_CONNS) >>> 2)];
  }

  /** The port a connection id is bound to, or -1 if the id is stale (closed) or not bound yet. */
  portOf(io: number, slot: number, gen: number): number {
    if (io >= this.nio) return -1;
    const w = this.slotWord[io] + slot * (SHM_SLOT_BYTES >>> 2);
    if (this.u32[w] !== gen) return -1;
    const p = this.u32[w + SHM_SLOT_PORT];
    return p < this.nports ? p : -1;
  }

  // ---- IO -> JS ------------------------------------------------------------------------------

  /** Called by the addon on the JS thread after a wakeup, with fresh tails in ctl. */
  readonly drain = (): void => {
    this.inDrain = true;
    try {
      for (let k = 0; k < this.nch; k++) {
        if (this.pending[k].length !== 0) this.pump(k);
        // A throwing handler has consumed its record (the head moved first): the rest of the
        // batch is still delivered. On a work thread the error is logged ('handlerError'); on
        // the main thread it is thrown again from a tick of its own, so that it reaches
        // 'uncaughtException' and the process's own policy decides, as for any Node callback.
        for (;;) {
          try {
            if (k < this.nio) this.drainIo(k);
            else this.drainTasks(k);
            break;
          } catch (err) {
            if (this.catchErrors) this.host.handlerError?.(err, this.current);
            else process.nextTick(rethrow, err);
          }
        }
      }
    } finally {
      this.current = undefined;
      this.inDrain = false;
      // A FRAMES record cut short by an error that left this drain (a throwing handlerError
      // listener) is not resumed later: its ring memory is released when the drain returns.
      this.fEnd = 0;
    }
  };

  private drainIo(k: number): void {
    if (this.fEnd !== 0 && this.fK === k) {
      const end = this.fEnd;
      this.fEnd = 0;
      this.frames(k, this.fSlot, this.fGen, this.fAt, end);
    }
    const ctl = this.ctl;
    const u32 = this.u32;
    const c = k * CTL_STRIDE;
    let head = ctl[c + CTL_IN_HEAD];
    const tail = ctl[c + CTL_IN_TAIL];
    if (head === tail) return;
    const base = this.inData[k];
    const mask = this.inMask[k];
    const conns = this.conns[k];
    while (head !== tail) {
      const off = base + (head & mask);
      const w = off >>> 2;
      const len = u32[w];
      const kf = u32[w + 1];
      const kind = kf & 0xffff;
      if (kind === REC_PAD) {
        head = (head + (mask + 1) - (head & mask)) >>> 0;
        ctl[c + CTL_IN_HEAD] = head;
        continue;
      }
      // The head moves past the record before it is handled: a handler that throws has
      // consumed it, as a throwing 'data' listener has in Node. The bytes stay valid until
      // this drain returns, because the addon releases the ring only then.
      head = (head + ((len + REC_HEADER_BYTES + 7) & ~7)) >>> 0;
      ctl[c + CTL_IN_HEAD] = head;
      if (kind === REC_FRAMES) {
        this.frames(k, u32[w + 2] & 0xffffff, u32[w + 3], off + REC_HEADER_BYTES, off + REC_HEADER_BYTES + len);
      } else if (kind === REC_DATA) {
        const conn = conns[u32[w + 2] & 0xffffff];
        if (conn !== undefined && conn[kGen] === u32[w + 3]) {
          this.current = conn;
          conn[kData](kf >>> 16, u32[w + 4], u32[w + 5], off + REC_HEADER_BYTES, len);
        }
      } else if (kind === REC_DGRAM) {
        const sink = this.dgrams.get(u32[w + 2]);
        if (sink !== undefined) {
          this.current = undefined;
          sink[kDgram](k, kf >>> 16, u32[w + 4], u32[w + 5], off + REC_HEADER_BYTES, len);
        }
      } else {
        this.control(k, kind, u32[w + 2], u32[w + 3], u32[w + 4], u32[w + 5], off + REC_HEADER_BYTES, len);
      }
    }
  }

  /** The frames of a FRAMES record, bytes `p` to `end` of the segment: frames as they came off
   * the socket (read straight into the ring), each its 12-byte big-endian header and body,
   * handled as a DATA record each. The connection is looked up again for each frame, as
   * drainIo() does for each DATA record, so that whatever a handler does to it (destroy, pause)
   * treats the frames behind alike. The position is kept in fields while handlers run: if one
   * throws, drainIo() goes on from the next frame, as it goes on from the next record. */
  private frames(k: number, slot: number, gen: number, p: number, end: number): void {
    const shm = this.shm;
    const conns = this.conns[k];
    this.fK = k;
    this.fSlot = slot;
    this.fGen = gen;
    this.fEnd = end;
    while (p < end) {
      const conn = conns[slot];
      if (conn === undefined || conn[kGen] !== gen) break;
      const flen = ((shm[p] << 24) | (shm[p + 1] << 16) | (shm[p + 2] << 8) | shm[p + 3]) >>> 0;
      const type = (shm[p + 4] << 8) | shm[p + 5];
      const flags = (shm[p + 6] << 8) | shm[p + 7];
      const seq = ((shm[p + 8] << 24) | (shm[p + 9] << 16) | (shm[p + 10] << 8) | shm[p + 11]) >>> 0;
      const body = p + FRAME_HEADER_BYTES;
      p = body + flen;
      this.fAt = p;
      this.current = conn;
      conn[kData](flags, type, seq, body, flen);
    }
    this.fEnd = 0;
  }

  /** Task ring from port (k - nio): TASK and REPLY records, reassembled when fragmented. The
   * walk repeats drainIo's rather than sharing it through a callback: drainIo is the message
   * hot path and stays one monomorphic loop. */
  private drainTasks(k: number): void {
    const ctl = this.ctl;
    const u32 = this.u32;
    const c = k * CTL_STRIDE;
    let head = ctl[c + CTL_IN_HEAD];
    const tail = ctl[c + CTL_IN_TAIL];
    if (head === tail) return;
    const base = this.inData[k];
    const mask = this.inMask[k];
    const from = k - this.nio;
    while (head !== tail) {
      const off = base + (head & mask);
      const w = off >>> 2;
      const len = u32[w];
      const kf = u32[w + 1];
      const kind = kf & 0xffff;
      if (kind === REC_PAD) {
        head = (head + (mask + 1) - (head & mask)) >>> 0;
        ctl[c + CTL_IN_HEAD] = head;
        continue;
      }
      head = (head + ((len + REC_HEADER_BYTES + 7) & ~7)) >>> 0;
      ctl[c + CTL_IN_HEAD] = head;
      if (kind !== REC_TASK && kind !== REC_REPLY) continue;
      const flags = kf >>> 16;
      let body = this.shm.subarray(off + REC_HEADER_BYTES, off + REC_HEADER_BYTES + len);
      if (flags & REC_F_MORE) {
        (this.frags[k] ??= []).push(Buffer.from(body));
        continue;
      }
      const parts = this.frags[k];
      if (parts !== null) {
        parts.push(body);
        body = Buffer.concat(parts);
        this.frags[k] = null;
      }
      this.current = undefined;
      this.tasks?.record(from, kind, flags & 0xff, u32[w + 2], u32[w + 3], u32[w + 4], u32[w + 5], body);
    }
  }

  private control(k: number, kind: number, idLo: number, gen: number, type: number, seq: number, off: number, len: number): void {
    const slot = idLo & 0xffffff;
    if (kind === REC_OPEN) {
      const serverId = this.u32[off >>> 2];
      const family = this.dv.getUint16(off + 4, true);
      const port = this.dv.getUint16(off + 6, true);
      // The peer's address, NUL, u16 local port, the local address.
      const end = off + len;
      let nul = this.shm.indexOf(0, off + 8);
      if (nul < 0 || nul > end) nul = end;
      const address = this.shm.toString('latin1', off + 8, nul);
      this.openLocalPort = nul + 3 <= end ? this.dv.getUint16(nul + 1, true) : 0;
      this.openLocalAddress = nul + 3 <= end ? this.shm.toString('latin1', nul + 3, end) : '';
      const conn = this.host.open(k, slot, gen, serverId, family, port, address);
      if (conn !== undefined) this.conns[k][slot] = conn;
      // Nobody here takes it (its server or link is gone): closed natively at once, never left
      // open without an owner.
      else if (!this.stopped) this.bodyless(k, REC_DESTROY, idLo, gen, 0, 0);
      return;
    }
    if (kind === REC_UNLISTEN) {
      this.host.unlistened(type);
      return;
    }
    if (kind === REC_ACCEPT_ERROR) {
      this.host.acceptError(type, seq);
      return;
    }
    if (kind === REC_LINK_FAIL) {
      this.host.linkFailed?.(type, seq | 0, len >= 4 ? this.u32[off >>> 2] : 0);
      return;
    }
    if (kind === REC_ADMIT) {
      const serverId = this.u32[off >>> 2];
      const family = this.dv.getUint16(off + 4, true);
      const port = this.dv.getUint16(off + 6, true);
      let nul = this.shm.indexOf(0, off + 8);
      if (nul < 0 || nul > off + len) nul = off + len;
      this.host.admit?.(k, idLo, gen, serverId, family, port, this.shm.toString('latin1', off + 8, nul));
      return;
    }
    if (kind === REC_BAN) {
      const reason = this.u32[off >>> 2] === BAN_MESSAGES ? 'messages' : 'connections';
      this.host.banned(type, { address: this.shm.toString('latin1', off + 8, off + len), ms: seq, reason });
      return;
    }
    const conn = this.conns[k][slot];
    if (conn === undefined || conn[kGen] !== gen) return;
    this.current = conn;
    switch (kind) {
      case REC_HTTP_REQ:
        conn[kHttpData](this.u32[(off - REC_HEADER_BYTES + 4) >>> 2] >>> 16, off, len);
        break;
      case REC_HTTP_RES:
        conn[kHttpResData](this.u32[(off - REC_HEADER_BYTES + 4) >>> 2] >>> 16, off, len);
        break;
      case REC_END:
        conn[kPeerEnd]();
        break;
      case REC_CLOSE:
        this.conns[k][slot] = undefined;
        if (len >= 32) conn[kKicked](this.kickInfo(off));
        conn[kClosed](type | 0, seq);
        break;
      case REC_DRAIN:
        conn[kDrain]();
        break;
      case REC_SECURE:
        conn[kSecure](type, this.shm.toString('latin1', off, off + len));
        break;
      case REC_FAULT:
        conn[kFault](type | 0);
        break;
      default:
        break;
    }
  }

  // ---- JS -> IO ------------------------------------------------------------------------------

  /**
   * Reserves an out record of `body` bytes in ring `k` and returns its byte offset, or -1 when
   * the ring has no room (ctl holds the head the addon last saw; it refreshes it on every flush
   * and wakeup). Mirrors ew_ring_reserve().
   */
  private reserve(k: number, body: number): number {
    const ctl = this.ctl;
    const c = k * CTL_STRIDE;
    const size = (body + REC_HEADER_BYTES + 7) & ~7;
    const mask = this.outMask[k];
    const cap = mask + 1;
    let tail = ctl[c + CTL_OUT_TAIL];
    const off = tail & mask;
    const toEnd = cap - off;
    const need = size <= toEnd ? size : size + toEnd;
    if (cap - ((tail - ctl[c + CTL_OUT_HEAD]) >>> 0) < need) return -1;
    let at = off;
    if (need !== size) {
      const pw = (this.outData[k] + off) >>> 2;
      this.u32[pw] = 0;
      this.u32[pw + 1] = REC_PAD;
      tail = (tail + toEnd) >>> 0;
      at = 0;
    }
    ctl[c + CTL_OUT_TAIL] = (tail + size) >>> 0;
    return this.outData[k] + at;
  }

  private header(r: number, body: number, kind: number, conn: ConnectionSink, type: number): void {
    this.rawHeader(r, body, kind, conn[kIdLo], conn[kGen], type, 0);
  }

  private rawHeader(r: number, body: number, kindFlags: number, idLo: number, gen: number, type: number, seq: number): void {
    const u32 = this.u32;
    const w = r >>> 2;
    u32[w] = body;
    u32[w + 1] = kindFlags;
    u32[w + 2] = idLo;
    u32[w + 3] = gen;
    u32[w + 4] = type;
    u32[w + 5] = seq;
  }

  /** The answer to an ADMIT record: admit (to `port`, or 0xffffffff for the server's policy)
   * or refuse. */
  verdict(io: number, idLo: number, gen: number, allow: boolean, port: number): void {
    if (!this.stopped) this.bodyless(io, REC_VERDICT, idLo, gen, allow ? 1 : 0, port >>> 0);
  }

  /** A record with no body (a command) into ring `k`, after everything queued before it. */
  private bodyless(k: number, kind: number, idLo: number, gen: number, type: number, seq: number): void {
    if (this.pending[k].length === 0) {
      const r = this.reserve(k, 0);
      if (r >= 0) {
        this.rawHeader(r, 0, kind, idLo, gen, type, seq);
        this.touched();
        return;
      }
    }
    this.pending[k].push({ kind, idLo, gen, type, seq, bytes: null, off: 0, owned: true, flags: 0, frag: false });
    this.pump(k);
  }

  /**
   * Writes a TASK or REPLY record to port `to` whose body is `prefix` then `payload` (either
   * may be null). `flags` is the task's own 8 bits (encoding, error). Large bodies are split
   * into MORE fragments; nothing is dropped: what does not fit waits in order.
   */
  sendTask(to: number, kind: number, flags: number, idLo: number, gen: number, type: number, seq: number, prefix: Uint8Array | null, payload: Uint8Array | string | null): void {
    const k = this.nio + to;
    const plen = prefix === null ? 0 : prefix.length;
    // A string payload (JSON, a string) is written straight into ring memory as UTF-8.
    const str = typeof payload === 'string';
    const blen = payload === null ? 0 : str ? Buffer.byteLength(payload as string, 'utf8') : (payload as Uint8Array).length;
    const len = plen + blen;
    if (this.pending[k].length === 0 && len <= this.outMax[k]) {
      const r = this.reserve(k, len);
      if (r >= 0) {
        this.rawHeader(r, len, kind | (flags << 16), idLo, gen, type, seq);
        const at = r + REC_HEADER_BYTES;
        if (prefix !== null) this.shm.set(prefix, at);
        if (blen !== 0) {
          if (str) this.shm.write(payload as string, at + plen, blen, 'utf8');
          else this.shm.set(payload as Uint8Array, at + plen);
        }
        // Publish every TASK_FLUSH_EVERY records rather than once at the end of the tick (or
        // of the drain): the other thread starts on the first ones while this one writes the
        // rest, so the two work side by side instead of taking turns.
        if (++this.taskUnflushed >= TASK_FLUSH_EVERY && !this.stopped) {
          this.taskUnflushed = 0;
          this.nrt.flush();
        }
        this.touched();
        return;
      }
    }
    const body = payload === null ? null : str ? Buffer.from(payload as string, 'utf8') : (payload as Uint8Array);
    const bytes = prefix === null ? body ?? Buffer.alloc(0) : body === null ? prefix : Buffer.concat([prefix, body]);
    this.pending[k].push({ kind, idLo, gen, type, seq, bytes, off: 0, owned: false, flags, frag: true });
    this.pump(k);
  }

  /** Writes one frame for `conn`. Never drops: what does not fit waits in order. */
  sendFrame(conn: ConnectionSink, type: number, flags: number, seq: number, body: Uint8Array): void {
    const k = conn[kIo];
    const len = body.length;
    const total = len + FRAME_HEADER_BYTES;
    if (this.pending[k].length === 0 && total <= this.outMax[k]) {
      const r = this.reserve(k, total);
      if (r >= 0) {
        this.header(r, total, REC_SEND, conn, 0);
        const f = r + REC_HEADER_BYTES;
        const dv = this.dv;
        dv.setUint32(f, len);
        dv.setUint16(f + 4, type);
        dv.setUint16(f + 6, flags);
        dv.setUint32(f + 8, seq);
        if (len !== 0) this.shm.set(body, f + FRAME_HEADER_BYTES);
        this.touched();
        return;
      }
    }
    const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    h.writeUInt32BE(len, 0);
    h.writeUInt16BE(type, 4);
    h.writeUInt16BE(flags, 6);
    h.writeUInt32BE(seq, 8);
    this.enqueue(k, REC_SEND, conn, 0, h, true);
    if (len !== 0) this.enqueue(k, REC_SEND, conn, 0, body, false);
    this.pump(k);
  }

  /**
   * Writes an HTTP response piece for `conn`: `head` (latin1 text: a status line and headers,
   * or a chunk header; may be '') then `body` (may be null), then `tail` (latin1, e.g. a chunk's
   * CRLF). `end` marks the last piece of a response (RESPONSE_END): the IO thread counts them to
   * keep native answers in order behind pipelined responses. The text is written straight into
   * ring memory; nothing is copied twice. `start`: record flags for the first record (an HTTP
   * client's request: REC_F_REQUEST_START, and REC_F_NO_BODY for HEAD).
   */
  sendHttp(conn: ConnectionSink, head: Uint8Array | null, body: Uint8Array | null, tail: Uint8Array | null, end: boolean, start = 0): void {
    const k = conn[kIo];
    const hlen = head === null ? 0 : head.length;
    const blen = body === null ? 0 : body.length;
    const tlen = tail === null ? 0 : tail.length;
    const total = hlen + blen + tlen;
    const flags = (end ? REC_F_RESPONSE_END : 0) | start;
    if (this.pending[k].length === 0 && total <= this.outMax[k]) {
      const r = this.reserve(k, total);
      if (r >= 0) {
        this.header(r, total, REC_SEND, conn, 0);
        this.u32[(r >>> 2) + 1] = REC_SEND | (flags << 16);
        let at = r + REC_HEADER_BYTES;
        if (hlen !== 0) {
          this.shm.set(head!, at);
          at += hlen;
        }
        if (blen !== 0) {
          this.shm.set(body!, at);
          at += blen;
        }
        if (tlen !== 0) this.shm.set(tail!, at);
        this.touched();
        return;
      }
    }
    // Large or behind a full ring: the same bytes through the ordered queue, the end flag on
    // the last record, the start flags on the first piece (on its last record, if it is split:
    // still before any byte of the next piece).
    const parts: Uint8Array[] = [];
    if (hlen !== 0) parts.push(Buffer.from(head!));
    if (blen !== 0) parts.push(Buffer.from(body!));
    if (tlen !== 0) parts.push(Buffer.from(tail!));
    if (parts.length === 0) parts.push(Buffer.alloc(0));
    for (let i = 0; i < parts.length; i++) this.enqueue(k, REC_SEND, conn, 0, parts[i], true, (end && i === parts.length - 1 ? REC_F_RESPONSE_END : 0) | (i === 0 ? start : 0));
    this.pump(k);
  }

  /**
   * Writes one DGRAM_SEND record for UDP socket `id` into ring `k`: the address block (family
   * 0: a connected socket's peer; else 4 or 6 with `port`, `scope` and the 16 bytes of `addr`),
   * then a frame header when `type` is not 0 (raw datagrams have none), then `body`. The caller
   * has checked that it fits one record. Never drops: what does not fit now waits in order.
   */
  sendDgram(k: number, id: number, family: number, port: number, scope: number, addr: Uint8Array | null, type: number, flags: number, seq: number, body: Uint8Array): void {
    const head = type !== 0 ? FRAME_HEADER_BYTES : 0;
    const total = DGRAM_PREFIX_BYTES + head + body.length;
    if (this.pending[k].length === 0) {
      const r = this.reserve(k, total);
      if (r >= 0) {
        this.rawHeader(r, total, REC_DGRAM_SEND, id, 0, 0, 0);
        writeDgram(this.shm, this.dv, r + REC_HEADER_BYTES, family, port, scope, addr, type, flags, seq, body);
        this.touched();
        return;
      }
    }
    const b = Buffer.allocUnsafe(total);
    writeDgram(b, new DataView(b.buffer, b.byteOffset, b.length), 0, family, port, scope, addr, type, flags, seq, body);
    this.pending[k].push({ kind: REC_DGRAM_SEND, idLo: id, gen: 0, type: 0, seq: 0, bytes: b, off: 0, owned: true, flags: 0, frag: false });
    this.pump(k);
  }

  /** Writes raw bytes for `conn` (raw framing). */
  sendRaw(conn: ConnectionSink, bytes: Uint8Array): void {
    const k = conn[kIo];
    const len = bytes.length;
    if (len === 0) return;
    if (this.pending[k].length === 0 && len <= this.outMax[k]) {
      const r = this.reserve(k, len);
      if (r >= 0) {
        this.header(r, len, REC_SEND, conn, 0);
        this.shm.set(bytes, r + REC_HEADER_BYTES);
        this.touched();
        return;
      }
    }
    this.enqueue(k, REC_SEND, conn, 0, bytes, false);
    this.pump(k);
  }

  /** A CONN_OPT record (option, value) for `conn`, after everything sent before. */
  option(conn: ConnectionSink, opt: number, value: number): void {
    this.bodyless(conn[kIo], REC_CONN_OPT, conn[kIdLo], conn[kGen], opt, value >>> 0);
  }

  /** SHUTDOWN, DESTROY (type = reason) or WATCH for `conn`, after everything sent before. */
  command(conn: ConnectionSink, kind: number, type: number): void {
    this.bodyless(conn[kIo], kind, conn[kIdLo], conn[kGen], type, 0);
  }

  private enqueue(k: number, kind: number, conn: ConnectionSink, type: number, bytes: Uint8Array | null, owned: boolean, flags = 0): void {
    this.pending[k].push({ kind, idLo: conn[kIdLo], gen: conn[kGen], type, seq: 0, bytes, off: 0, owned, flags, frag: false });
  }

  /** Moves waiting records into ring `k` as room allows; asks to be woken when it runs out. */
  private pump(k: number): void {
    const q = this.pending[k];
    let i = this.pendingHead[k];
    const max = this.outMax[k];
    while (i < q.length) {
      const p = q[i];
      const n = p.bytes === null ? 0 : Math.min(p.bytes.length - p.off, max);
      let r = this.reserve(k, n);
      if (r < 0) {
        if (this.stopped || !this.nrt.space(k, n)) break;
        r = this.reserve(k, n);
        if (r < 0) break;
      }
      this.rawHeader(r, n, p.kind, p.idLo, p.gen, p.type, p.seq);
      if (p.bytes !== null && n !== 0) {
        this.shm.set(p.bytes.subarray(p.off, p.off + n), r + REC_HEADER_BYTES);
        p.off += n;
        if (p.off < p.bytes.length) {
          if (p.frag) this.u32[(r >>> 2) + 1] = p.kind | ((p.flags | REC_F_MORE) << 16);
          continue;
        }
      }
      if (p.flags !== 0) this.u32[(r >>> 2) + 1] = p.kind | (p.flags << 16);
      i++;
    }
    if (i === q.length) {
      q.length = 0;
      i = 0;
    } else {
      // The caller may reuse or free what it passed once send() returns (a body can even be a
      // view into an in ring): keep a copy of whatever still waits.
      for (let j = i; j < q.length; j++) {
        const p = q[j];
        if (!p.owned && p.bytes !== null) {
          p.bytes = Buffer.from(p.bytes.subarray(p.off));
          p.off = 0;
          p.owned = true;
        }
      }
      if (i > 1024) {
        q.splice(0, i);
        i = 0;
      }
    }
    this.pendingHead[k] = i;
    this.touched();
  }

  /** Bytes waiting in JS because their ring was full, for all connections of ring `k`. */
  pendingBytes(k: number): number {
    let n = 0;
    const q = this.pending[k];
    for (let j = this.pendingHead[k]; j < q.length; j++) n += q[j].bytes === null ? 0 : q[j].bytes!.length - q[j].off;
    return n;
  }

  private touched(): void {
    if (this.inDrain || this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(this.flushNow);
  }

  private readonly flushNow = (): void => {
    this.flushQueued = false;
    this.taskUnflushed = 0;
    if (!this.stopped) this.nrt.flush();
  };

  // ---- shared counters ------------------------------------------------------------------------

  /** Bytes the IO thread has written to the kernel for the connection in (io, slot), mod 2^32,
   * or -1 if the slot no longer holds generation `gen`. */
  written(io: number, slot: number, gen: number): number {
    const w = this.slotWord[io] + slot * (SHM_SLOT_BYTES >>> 2);
    return this.u32[w] === gen ? this.u32[w + 1] : -1;
  }

  /** Whether message encryption's handshake finished for the connection in (io, slot) of
   * generation `gen`. */
  encrypted(io: number, slot: number, gen: number): boolean {
    const w = this.slotWord[io] + slot * (SHM_SLOT_BYTES >>> 2);
    return this.u32[w] === gen && (this.u32[w + SHM_SLOT_STATE] & SLOT_STATE_ENCRYPTED) !== 0;
  }

  /** A number that changes whenever the connection in (io, slot) reads or writes a byte (bytes
   * read plus bytes written, mod 2^32), or -1 if the slot no longer holds generation `gen`. */
  activity(io: number, slot: number, gen: number): number {
    const w = this.slotWord[io] + slot * (SHM_SLOT_BYTES >>> 2);
    return this.u32[w] === gen ? (this.u32[w + SHM_SLOT_BYTES_IN] + this.u32[w + 1]) >>> 0 : -1;
  }

  /** The figures a CLOSE record of a kick carries (EW_KICK_BODY_BYTES). */
  private kickInfo(off: number): KickInfo {
    const w = off >>> 2;
    return {
      what: this.u32[w] === KICK_MESSAGES ? 'messages' : 'bytes',
      windowMs: this.u32[w + 1],
      messages: this.u32[w + 2],
      bytes: this.u64(off + 16),
      limit: this.u64(off + 24),
    };
  }

  private u64(byte: number): number {
    const w = byte >>> 2;
    return this.u32[w] + this.u32[w + 1] * 0x100000000;
  }

  /** The counters the IO thread publishes in the slot of (io, slot), or null if the slot no
   * longer holds generation `gen`. */
  slotStats(io: number, slot: number, gen: number): { msgs: number; bytesIn: number; bytesOut: number; winMsgs: number; winBytes: number; winStart: number } | null {
    const w = this.slotWord[io] + slot * (SHM_SLOT_BYTES >>> 2);
    if (this.u32[w] !== gen) return null;
    const b = w << 2;
    return {
      msgs: this.u64(b + SHM_SLOT_MSGS_IN * 4),
      bytesIn: this.u64(b + SHM_SLOT_BYTES_IN * 4),
      bytesOut: this.u64(b + SHM_SLOT_BYTES_OUT * 4),
      winMsgs: this.u32[w + SHM_SLOT_WIN_MSGS],
      winBytes: this.u64(b + SHM_SLOT_WIN_BYTES * 4),
      winStart: this.u64(b + SHM_SLOT_WIN_START * 4),
    };
  }

  /** IO thread `io`'s counter number `index` (EW_IO_STATS_MAP order). */
  stat(io: number, index: number): number {
    return Number(this.dv.getBigUint64(this.ioStatsByte[io] + index * 8, true));
  }
}

/** The body of a DGRAM_SEND record at `at` of `buf` (docs/protocol.md, "Datagrams"). */
function writeDgram(buf: Uint8Array, dv: DataView, at: number, family: number, port: number, scope: number, addr: Uint8Array | null, type: number, flags: number, seq: number, body: Uint8Array): void {
  buf[at] = family;
  buf[at + 1] = 0;
  dv.setUint16(at + 2, port, true);
  dv.setUint32(at + 4, scope, true);
  if (addr !== null) buf.set(addr, at + 8);
  else buf.fill(0, at + 8, at + DGRAM_PREFIX_BYTES);
  let p = at + DGRAM_PREFIX_BYTES;
  if (type !== 0) {
    dv.setUint32(p, body.length);
    dv.setUint16(p + 4, type);
    dv.setUint16(p + 6, flags);
    dv.setUint32(p + 8, seq);
    p += FRAME_HEADER_BYTES;
  }
  if (body.length !== 0) buf.set(body, p);
}

function rethrow(err: unknown): never {
  throw err;
}
