// Waits for a condition another process or instance brings about: polled, with a generous overall deadline
// (a loaded machine is slow), never a fixed sleep. Fails with what the condition last answered.
import { setTimeout as pause } from 'node:timers/promises';

export interface EventuallyOptions {
  deadlineMs?: number;
  /** Says why the condition can never hold (a process it waits on has ended): the wait fails at once, with that reason. */
  stop?: () => string | undefined;
}

export async function eventually<T>(what: string, check: () => Promise<T | undefined>, { deadlineMs = 60_000, stop }: EventuallyOptions = {}): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    const why = stop?.();
    if (why) throw new Error(`${what}: ${why}`);
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${deadlineMs / 1000} s${last ? ` (last: ${String(last)})` : ''}`);
    // Between polls only: the pause is no assertion about time.
    await pause(50);
  }
}
