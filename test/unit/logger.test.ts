import { Writable } from 'node:stream';
import { createLogger } from '../../lib/logger';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, log: createLogger({ level: 'info', destination }) };
}

describe('logger', () => {
  it('redacts passwords and tokens wherever they appear in a log object', () => {
    const { lines, log } = capture();
    log.info(
      {
        password: 'hunter2-secret',
        body: { newPassword: 'n3w-secret', currentPassword: 'old-secret', token: 'tok-secret' },
        req: { headers: { authorization: 'Bearer op-secret', cookie: 'sid=cookie-secret' } },
        initialPassword: 'init-secret',
      },
      'x',
    );
    const text = lines.join('');
    for (const secret of ['hunter2-secret', 'n3w-secret', 'old-secret', 'tok-secret', 'op-secret', 'cookie-secret', 'init-secret']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('[redacted]');
  });

  it('writes JSON lines with ISO UTC timestamps', () => {
    const { lines, log } = capture();
    log.info({ a: 1 }, 'hello');
    const entry = JSON.parse(lines[0]!);
    expect(entry).toMatchObject({ level: 'info', msg: 'hello', a: 1 });
    expect(entry.time).toMatch(/Z$/);
  });
});
