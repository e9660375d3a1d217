// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
//
// The published types as a user's strict project sees them: test/api-surface.test.ts compiles
// this file alone with skipLibCheck off (test/types/tsconfig.json), so every .d.ts the package
// ships is checked, and each @ts-expect-error below fails the build if an internal member
// becomes visible again.
import { Runtime, type ConnectionStats, type IoThreadStats, type RemoteInfo, type UdpStats } from '../../dist/index';

export async function consumer(): Promise<void> {
  const rt = await Runtime.start();
  const s: IoThreadStats = rt.stats()[0];
  const n: number = s.bytesIn + s.framesIn + s.ringFull;
  // @ts-expect-error the counters are typed: a misspelt one does not compile
  void s.bytes_in;
  // @ts-expect-error internal: the engine's hook for new connections
  void rt.open;
  // @ts-expect-error internal: the admission hook
  void rt.admit;
  // @ts-expect-error internal: the native runtime
  void rt.nrt;
  const server = await rt.listen({ protocol: 'tcp', port: 0 });
  server.on('connection', (conn) => {
    const c: ConnectionStats = conn.stats();
    // conn.server is the Server (declaration merging from lib/server.ts), bans and all.
    const banned: number = conn.server.bans.list().length + conn.server.stats().kicks.messages;
    void banned;
    void (c.messagesIn + c.messagesOut + c.bytesIn + c.bytesOut);
  });
  // UDP: a framed socket's messages are Messages, a raw one's Buffers, both with Node's rinfo.
  const udp = await rt.listen({ protocol: 'udp', port: 0 });
  udp.on('message', (msg, rinfo: RemoteInfo) => udp.send(msg.type, msg.body, { seq: msg.seq }, rinfo.port, rinfo.address));
  const raw = await rt.connect({ protocol: 'udp', host: 'localhost', port: udp.address().port, framing: 'raw' });
  raw.on('message', (bytes) => void bytes.readUInt8(0));
  raw.send(Buffer.from('x'));
  const us: UdpStats = udp.stats();
  void (us.dropped.badHeader + s.dgramsIn);
  // @ts-expect-error internal: the engine's hook for datagrams is keyed by a symbol, not a name
  void udp.dgram;
  void n;
  await rt.close();
}
