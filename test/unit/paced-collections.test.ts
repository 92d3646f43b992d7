import { paceCollections } from '../../lib/paced-collections';

/**
 * The export's timed collections (lib/paced-collections.ts): with V8's `gc` exposed they run every
 * interval while at least one job holds them, and stop when the last one ends; without it, nothing.
 */
describe('paced garbage collections', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('collects every interval while a job runs, and not after it ended', () => {
    const gc = jest.fn();
    const end = paceCollections(gc, 500);
    jest.advanceTimersByTime(1_600);
    expect(gc).toHaveBeenCalledTimes(3);
    end();
    jest.advanceTimersByTime(5_000);
    expect(gc).toHaveBeenCalledTimes(3);
  });

  it('shares one timer between jobs at once and stops with the last; ending twice counts once', () => {
    const gc = jest.fn();
    const first = paceCollections(gc, 500);
    const second = paceCollections(gc, 500);
    jest.advanceTimersByTime(1_000);
    expect(gc).toHaveBeenCalledTimes(2);
    first();
    first();
    jest.advanceTimersByTime(1_000);
    expect(gc).toHaveBeenCalledTimes(4);
    second();
    jest.advanceTimersByTime(1_000);
    expect(gc).toHaveBeenCalledTimes(4);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('does nothing where the process was started without --expose-gc', () => {
    const end = paceCollections(undefined);
    expect(jest.getTimerCount()).toBe(0);
    end();
  });
});
