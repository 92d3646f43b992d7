import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import Koa from 'koa';
import { clientAddress } from '../../api/middleware/client-ip';
import type { AppState } from '../../api/state';

/** A request whose client went away before the route ran: no address, so nothing of it may run. */
describe('the client address', () => {
  it('ends a request whose socket was closed before it got here instead of passing on an empty address', async () => {
    const reached: string[] = [];
    let closedBeforeUs: (() => void) | undefined;
    const done = new Promise<void>((r) => (closedBeforeUs = r));
    const app = new Koa<AppState>();
    // Closing the socket here stands for a client that reset its connection while the request waited.
    app.use(async (ctx, next) => {
      ctx.req.socket.destroy();
      try {
        await next();
      } finally {
        closedBeforeUs!();
      }
    });
    app.use(clientAddress([]));
    app.use((ctx) => {
      reached.push(ctx.state.clientIp);
      ctx.body = 'ran';
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.write('GET /v1/me HTTP/1.1\r\nHost: x\r\n\r\n');
      await done;
      socket.destroy();
      expect(reached).toEqual([]);
    } finally {
      server.close();
    }
  });

  it('passes the peer address on otherwise', async () => {
    const app = new Koa<AppState>();
    app.use(clientAddress([]));
    app.use((ctx) => {
      ctx.body = ctx.state.clientIp;
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      expect(await res.text()).toBe('127.0.0.1');
    } finally {
      server.close();
    }
  });
});
