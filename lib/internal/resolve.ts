// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// Host names as listen() and connect() resolve them: dns.lookup (getaddrinfo on libuv's thread
// pool, never on an IO thread), its failures as the EW_EAI_* errors the native side would give.
import { lookup } from 'dns/promises';
import { ERROR_CODES, fromNative } from '../errors';

/** A host name or address as a numeric address (the first dns.lookup answers). */
export async function resolveHost(host: string): Promise<string> {
  try {
    return (await lookup(host)).address;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const code = e.code === 'ENOTFOUND' ? 'EW_EAI_NONAME' : e.code === 'EAI_AGAIN' ? 'EW_EAI_AGAIN' : 'EW_EAI_OTHER';
    throw fromNative({ code, message: `${ERROR_CODES[code].message} (getaddrinfo) ${host}`, errno: ERROR_CODES[code].errno, syscall: 'getaddrinfo', address: host });
  }
}
