import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { Context } from 'koa';
import { sendStream, type StreamDeadlines } from '../../api/stream-body';

/**
 * A streamed export ends when its client stops taking it (or takes too long in all), so that a
 * client cannot hold the export's database connection and slot by keeping its socket open.
 * A real HTTP server and a real socket; the body is an endless producer that says when it is destroyed.
 */
function endlessBody() {
  const chunk = Buffer.alloc(64 * 1024, 'a');
  let destroyed: (err: Error | null) => void = () => undefined;
  const ended = new Promise<Error | null>((resolve) => (destroyed = resolve));
  const body = new Readable({
    read() {
      this.push(chunk);
    },
    destroy(err, done) {
      destroyed(err);
      done(err);
    },
  });
  return { body, ended };
}

async function serve(deadlines: StreamDeadlines, body: Readable) {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/csv' });
    sendStream({ res, method: req.method, respond: true } as unknown as Context, body, deadlines);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

describe('sendStream deadlines', () => {
  it('cuts off a client that stops reading: the producer is destroyed, not held open', async () => {
    const { body, ended } = endlessBody();
    const { server, port } = await serve({ stallMs: 200, totalMs: 60_000 }, body);
    const client = net.connect(port, '127.0.0.1');
    await once(client, 'connect');
    client.write('GET /v1/audit-logs.csv HTTP/1.1\r\nHost: x\r\n\r\n');
    // Reads the first bytes, then nothing more, keeping the socket open.
    await once(client, 'data');
    client.pause();
    expect((await ended)?.message).toBe('the client closed the connection');
    client.destroy();
    server.close();
  });

  it('ends a body that takes longer than the total deadline, however steadily it is read', async () => {
    const { body, ended } = endlessBody();
    const { server, port } = await serve({ stallMs: 60_000, totalMs: 300 }, body);
    const client = net.connect(port, '127.0.0.1');
    client.on('data', () => undefined);
    client.write('GET /v1/audit-logs.csv HTTP/1.1\r\nHost: x\r\n\r\n');
    const closed = once(client, 'close');
    expect((await ended)?.message).toBe('the client closed the connection');
    await closed;
    server.close();
  });

  it('sends a finite body whole, and clears its deadlines', async () => {
    const body = Readable.from([Buffer.from('a,b\r\n'), Buffer.from('1,2\r\n')]);
    const { server, port } = await serve({ stallMs: 200, totalMs: 300 }, body);
    const reply = await fetch(`http://127.0.0.1:${port}/`);
    expect(await reply.text()).toBe('a,b\r\n1,2\r\n');
    server.close();
  });
});
