import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generationScratch } from '../../lib/backup/scratch';

describe("a generation's scratch folder", () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'scratch-root-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("starts empty even after an interrupted attempt, removes other generations' folders abandoned for a day, and keeps the rest", async () => {
    const now = Date.parse('2026-12-04T03:00:00Z');
    const id = randomUUID();
    const folder = (g: string) => path.join(root, `forclinic-backup-${g}`);
    // What a killed attempt of this generation left behind.
    await mkdir(folder(id));
    await writeFile(path.join(folder(id), '3'), 'sealed bytes of a table');
    const abandoned = randomUUID();
    const recent = randomUUID();
    for (const g of [abandoned, recent]) await mkdir(folder(g));
    await mkdir(path.join(root, 'someone-else'));
    const twoDaysAgo = new Date(now - 2 * 24 * 3600 * 1000);
    await utimes(folder(abandoned), twoDaysAgo, twoDaysAgo);
    await utimes(path.join(root, 'someone-else'), twoDaysAgo, twoDaysAgo);
    const anHourAgo = new Date(now - 3600 * 1000);
    await utimes(folder(recent), anHourAgo, anHourAgo);

    const scratch = await generationScratch(id, root, now);
    expect(scratch).toBe(folder(id));
    expect(await readdir(scratch)).toEqual([]);
    expect((await stat(scratch)).mode & 0o777).toBe(0o700);
    expect((await readdir(root)).sort()).toEqual([`forclinic-backup-${id}`, `forclinic-backup-${recent}`, 'someone-else'].sort());
  });

  it('takes only a generation id, never a path', async () => {
    await expect(generationScratch('../etc', root)).rejects.toThrow(/not a generation id/);
  });
});
