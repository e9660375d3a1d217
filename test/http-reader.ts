// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import * as net from 'net';

export interface Parsed {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Reads HTTP/1.1 responses from a raw socket (Content-Length, chunked, or close-delimited). */
export class ResponseReader {
  private buf = Buffer.alloc(0);
  readonly responses: Parsed[] = [];
  private ended = false;
  private waiters: (() => void)[] = [];

  /** `methods` lists the requests in order where some are HEAD (their responses have no body). */
  constructor(
    readonly socket: net.Socket,
    private readonly methods: string[] = [],
  ) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
    });
    socket.on('close', () => {
      this.ended = true;
      this.parse(true);
    });
  }

  private parse(eof = false): void {
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) break;
      const lines = this.buf.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(lines[0].split(' ')[1]);
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      let rest = this.buf.subarray(end + 4);
      let body: Buffer;
      if (status === 100) {
        this.responses.push({ status, headers, body: Buffer.alloc(0) });
        this.buf = rest;
        continue;
      }
      const isHead = this.methods[this.responses.filter((r) => r.status !== 100).length] === 'HEAD';
      if (isHead) {
        body = Buffer.alloc(0);
      } else if (headers['content-length'] !== undefined) {
        const n = Number(headers['content-length']);
        if (rest.length < n) break;
        body = rest.subarray(0, n);
        rest = rest.subarray(n);
      } else if (headers['transfer-encoding'] === 'chunked') {
        const chunks: Buffer[] = [];
        let at = 0;
        let done = false;
        for (;;) {
          const le = rest.indexOf('\r\n', at);
          if (le < 0) break;
          const size = parseInt(rest.subarray(at, le).toString(), 16);
          if (size === 0) {
            if (rest.length < le + 4) break;
            at = le + 4;
            done = true;
            break;
          }
          if (rest.length < le + 2 + size + 2) break;
          chunks.push(rest.subarray(le + 2, le + 2 + size));
          at = le + 2 + size + 2;
        }
        if (!done) break;
        body = Buffer.concat(chunks);
        rest = rest.subarray(at);
      } else if (eof) {
        body = rest;
        rest = Buffer.alloc(0);
      } else {
        break;
      }
      this.responses.push({ status, headers, body: Buffer.from(body) });
      this.buf = rest;
    }
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  async wait(n: number): Promise<Parsed[]> {
    while (this.responses.length < n) {
      if (this.ended) throw new Error(`connection closed after ${this.responses.length} of ${n} responses`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
    return this.responses;
  }

  get closed(): boolean {
    return this.ended;
  }
}

