import net from 'node:net';
import { onFreePort } from '../../lib/process';

/** onFreePort: a port taken between choosing it and binding it costs a retry, not the run. */
const listen = (port: number) =>
  new Promise<net.Server>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
const close = (server: net.Server) => new Promise((r) => server.close(r));

describe('onFreePort', () => {
  it('tries another port when another process takes the first one before it binds', async () => {
    const tried: number[] = [];
    const squatters: net.Server[] = [];
    const ours = await onFreePort('test server', async (port) => {
      tried.push(port);
      if (tried.length === 1) squatters.push(await listen(port)); // someone else is faster
      return listen(port);
    });
    try {
      expect(tried).toHaveLength(2);
      expect(tried[1]).not.toBe(tried[0]);
      expect((ours.address() as net.AddressInfo).port).toBe(tried[1]);
    } finally {
      await Promise.all([ours, ...squatters].map(close));
    }
  });

  it('counts a start that failed while something else now listens on its port as a clash', async () => {
    const squatters: net.Server[] = [];
    let calls = 0;
    const result = await onFreePort('silent binary', async (port) => {
      calls += 1;
      if (calls === 1) {
        squatters.push(await listen(port));
        throw new Error('exited during start-up'); // says nothing about the port
      }
      return port;
    });
    await Promise.all(squatters.map(close));
    expect([calls, typeof result]).toEqual([2, 'number']);
  });

  it('throws other failures at once, and gives up after the attempts', async () => {
    let calls = 0;
    await expect(onFreePort('broken', async () => { calls += 1; throw new Error('no such binary'); })).rejects.toThrow('no such binary');
    expect(calls).toBe(1);
    calls = 0;
    await expect(onFreePort('unlucky', async () => { calls += 1; throw Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' }); }, { attempts: 3 })).rejects.toThrow('EADDRINUSE');
    expect(calls).toBe(3);
  });
});
