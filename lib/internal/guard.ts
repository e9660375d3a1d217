// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The native protection calls of a server (server.setLimits, stats, bans), errors translated.
// The main thread and work threads use the same ones: the C calls are safe from any JS thread.
import { ClosedError, fromNative } from '../errors';
import type { NativeRuntime, NativeTls } from '../native';
import type { BanEntry, GuardHost, Limits } from '../server';

export function nativeGuard(nrt: NativeRuntime, closing: () => boolean): GuardHost {
  const call = <T>(fn: () => T): T => {
    if (closing()) throw new ClosedError('EW_ESHUTDOWN', 'the runtime is closing');
    try {
      return fn();
    } catch (err) {
      throw fromNative(err);
    }
  };
  return {
    setLimits: (id: number, limits: Required<Limits>): void => call(() => nrt.setLimits(id, limits)),
    setTls: (id: number, tls: NativeTls): void => call(() => nrt.setTls(id, tls)),
    stats: (id: number) => {
      try {
        return nrt.serverStats(id);
      } catch {
        return null; // no longer listening natively
      }
    },
    banAdd: (id: number, address: string, ms: number): void => call(() => nrt.banAdd(id, address, ms)),
    banRemove: (id: number, address: string): boolean => call(() => nrt.banRemove(id, address)),
    banList: (id: number): BanEntry[] => {
      try {
        return nrt.banList(id);
      } catch {
        return [];
      }
    },
  };
}
