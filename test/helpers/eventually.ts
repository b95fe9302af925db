// Waits for a condition another process or instance brings about: polled, with a generous overall deadline
// (a loaded machine is slow), never a fixed sleep. Fails with what the condition last answered.
import { setTimeout as pause } from 'node:timers/promises';

export async function eventually<T>(what: string, check: () => Promise<T | undefined>, deadlineMs = 60_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
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
