// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import { once } from 'events';
import type * as net from 'net';
import { InvalidArgumentError, ProtocolError, Runtime, defineMessageType, demo, messageTypeId, type Server } from '../dist/index';
import { FrameReader, connect, frame } from './helpers';

// Typed messages: demo.proto's MessageType enum gives each message its frame type id; a typed
// handler receives the decoded class instance; bodies that do not decode follow the server's
// decodeErrorPolicy.
describe('typed messages', function () {
  let rt: Runtime;
  const sockets: net.Socket[] = [];

  beforeEach(async () => {
    rt = await Runtime.start({ logger: { level: 'silent' } });
  });

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await rt.close();
  });

  async function client(server: Server): Promise<{ s: net.Socket; r: FrameReader }> {
    const s = await connect(server.address().port);
    sockets.push(s);
    return { s, r: new FrameReader(s) };
  }

  it('maps the MessageType enum to frame type ids', () => {
    assert.equal(messageTypeId(demo.Login), 1);
    assert.equal(messageTypeId(demo.LoginReply), 2);
    assert.equal(messageTypeId(demo.Pong), 7);
    assert.equal(demo.MessageType.MOVE, messageTypeId(demo.Move));
  });

  it('routes by type id to a handler that gets the decoded message, and sends typed replies', async () => {
    const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
    const untyped: number[] = [];
    server.handle(demo.Login, (conn, login, f) => {
      assert.ok(login instanceof demo.Login);
      conn.send(demo.LoginReply, { ok: login.user === 'ada', session: 42, error: '' }, { seq: f.seq, flags: 2 });
    });
    server.on('connection', (c) => c.on('message', (m) => untyped.push(m.type)));
    const { s, r } = await client(server);
    s.write(frame(1, demo.Login.encode({ user: 'ada', token: 't' }).finish(), 77));
    s.write(frame(9, 'not typed', 78));
    s.write(frame(1, demo.Login.encode({ user: 'bob' }).finish(), 79));
    const got = await r.waitFrames(2);
    assert.equal(got[0].type, 2);
    assert.equal(got[0].seq, 77);
    assert.equal(got[0].flags, 2);
    const reply = demo.LoginReply.decode(got[0].body);
    assert.equal(reply.ok, true);
    assert.equal(Number(reply.session), 42);
    assert.equal(demo.LoginReply.decode(got[1].body).ok, false);
    assert.deepEqual(untyped, [9]);
  });

  it("closes with EW_EPROTO_DECODE under decodeErrorPolicy 'close' (the default)", async () => {
    const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
    let handled = 0;
    server.handle(demo.Move, () => handled++);
    const closedReason = new Promise<{ code: string; error: unknown }>((resolve) =>
      server.on('connection', (c) => c.on('close', (r) => resolve(r))),
    );
    const { s, r } = await client(server);
    const peerClosed = once(s, 'close');
    s.write(frame(3, demo.Move.encode({ player: 1, x: -5, y: 9 }).finish()));
    s.write(frame(3, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])));
    const reason = await closedReason;
    assert.equal(reason.code, 'EW_EPROTO_DECODE');
    assert.ok(reason.error instanceof ProtocolError);
    assert.equal(handled, 1);
    assert.equal(server.stats().decodeErrors, 1);
    await peerClosed;
    assert.equal(r.frames.length, 0);
  });

  it("drops the message and keeps the connection under decodeErrorPolicy 'drop'", async () => {
    const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, decodeErrorPolicy: 'drop' });
    server.handle(demo.Ping, (conn, ping, f) => conn.send(demo.Pong, { sentAtNs: ping.sentAtNs, payload: ping.payload }, { seq: f.seq }));
    const { s, r } = await client(server);
    s.write(frame(6, Buffer.from([0x0a, 0xff])), () => undefined); // truncated varint
    s.write(frame(6, demo.Ping.encode({ sentAtNs: 5, payload: Buffer.from('hi') }).finish(), 2));
    const [pong] = await r.waitFrames(1);
    assert.equal(pong.type, 7);
    assert.equal(pong.seq, 2);
    assert.equal(Buffer.from(demo.Pong.decode(pong.body).payload).toString(), 'hi');
    assert.equal(server.stats().decodeErrors, 1);
  });

  it('rejects bad type ids and unbound classes with InvalidArgumentError', async () => {
    const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
    class Unbound {
      static decode(): Unbound {
        return new Unbound();
      }
      static encode(): { finish(): Uint8Array } {
        return { finish: () => new Uint8Array() };
      }
    }
    assert.throws(() => server.handle(Unbound, () => undefined), InvalidArgumentError);
    assert.throws(() => defineMessageType(Unbound, 0), (e: InvalidArgumentError) => e.code === 'EW_EINVAL');
    assert.throws(() => defineMessageType(Unbound, 70000), InvalidArgumentError);
    assert.throws(() => defineMessageType(demo.Login, 5), InvalidArgumentError, 'a class keeps its id');
    defineMessageType(Unbound, 900);
    assert.equal(messageTypeId(Unbound), 900);
  });
});
