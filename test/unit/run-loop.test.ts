/**
 * The shared loop of the relay and the reconciler (lib/run-loop.ts): rounds with work follow
 * each other at once; an idle round waits until woken; a wake-up during a round is not lost;
 * failures are reported with their count in a row and reset by a success; stop ends a wait.
 */
import { RunLoop, type Rounds } from '../../lib/run-loop';
import { eventually } from '../support/wait';

function loop(over: Partial<Rounds> & Pick<Rounds, 'round'>): RunLoop {
  return new RunLoop({ idleMs: () => 60_000, failed: () => undefined, backoffMs: () => 1, ...over });
}

test('rounds with work run back to back; an idle round waits until woken, then the loop runs again', async () => {
  let rounds = 0;
  let work = 3;
  const l = loop({ round: async () => (rounds++, work-- > 0) });
  l.start();
  await eventually(async () => rounds === 4, { timeoutMs: 2000, what: 'three busy rounds and an idle one' });
  expect(rounds).toBe(4); // waiting: the idle time is a minute
  l.wake();
  await eventually(async () => rounds === 5, { timeoutMs: 2000, what: 'the round after the wake-up' });
  const stopped = Date.now();
  await l.stop();
  expect(Date.now() - stopped).toBeLessThan(1000); // stop ends the idle wait
  expect(l.stopping).toBe(true);
});

test('a wake-up that arrives during a round makes the next idle wait return at once', async () => {
  let rounds = 0;
  let l: RunLoop | undefined = undefined;
  l = loop({
    round: async () => {
      rounds++;
      if (rounds === 1) l!.wake(); // a NOTIFY while the round claims nothing
      return false;
    },
  });
  l.start();
  await eventually(async () => rounds >= 2, { timeoutMs: 2000, what: 'the round the wake-up asked for' });
  await l.stop();
});

test('failures are told with their count in a row, backed off, and reset by a success', async () => {
  const outcomes = ['fail', 'fail', 'ok', 'fail', 'idle'];
  const told: number[] = [];
  const backoffs: number[] = [];
  const l = loop({
    round: async () => {
      const o = outcomes.shift() ?? 'idle';
      if (o === 'fail') throw new Error('boom');
      return o === 'ok';
    },
    failed: (_err, failures) => void told.push(failures),
    backoffMs: (failures) => (backoffs.push(failures), 1),
  });
  l.start();
  await eventually(async () => outcomes.length === 0, { timeoutMs: 2000, what: 'every staged round' });
  await l.stop();
  expect(told).toEqual([1, 2, 1]);
  expect(backoffs).toEqual([1, 2, 1]);
});
