// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// What a protocol's own listen() and connect() hooks (lib/protocols.ts) get from the runtime,
// and what they hand back: the runtime's native side, this thread's engine, and a registry of
// the handles they open that are not servers (UDP sockets), so that those hear of their native
// close, of bans and of the runtime's stop, and keep the runtime referenced while open. It sits
// below the protocols and the runtime so that neither imports the other.
import type { BanInfo } from '../limits';
import type { Logger } from '../log';
import type { NativeRuntime } from '../native';
import type { GuardHost } from '../server';
import type { Engine } from './engine';
import { kNativeClosed, kStopped } from './symbols';

/** @internal A protocol object in the servers' id space that is not a Server (a UDP socket). */
export interface ProtocolHandle {
  readonly id: number;
  /** Every native socket of it is closed (the UNLISTEN record). */
  [kNativeClosed](): void;
  /** The runtime stopped: it is closed, whatever it was doing. */
  [kStopped](): void;
  /** An address was banned automatically (the BAN record). */
  emit(event: 'ban', info: BanInfo): boolean;
}

/** @internal */
export interface ProtocolHost {
  readonly nrt: NativeRuntime;
  readonly engine: Engine;
  readonly logger: Logger;
  readonly guard: GuardHost;
  /** This JS thread's port: what the protocol opens reports to it. */
  readonly portIndex: number;
  /** The largest body one record of the in rings carries (engine.inMax). */
  readonly maxRecordBody: number;
  /** Throws ClosedError(EW_ESHUTDOWN) once the runtime is closing. */
  checkOpen(): void;
  /** A host name or address to a numeric address (dns.lookup), with the errors listen()
   * reports (EW_EAI_NONAME, ...). */
  resolve(host: string): Promise<string>;
  /** Registers a handle (it keeps the runtime referenced until removed). */
  add(handle: ProtocolHandle): void;
  remove(handle: ProtocolHandle): void;
}
