/**
 * The stack brings its components up in parallel, except where one starts after another. On an
 * empty machine the first `npm run stack -- up` failed: the Web UI's server (built in 135 s)
 * started waiting 180 s for Temporal while Temporal's CLI was still being built (302 s), and
 * timed out ("waiting for temporal (for the Web UI)").
 */
import type { Component, ComponentStatus } from '../../scripts/stack/component';
import { loadStackConfig } from '../../scripts/stack/config';
import { components, upInOrder } from '../../scripts/stack/stack';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function fake(name: string, after: Component[] = []): Component {
  return {
    name,
    logFile: `/nonexistent/${name}.log`,
    after,
    install: async () => undefined,
    start: async () => undefined,
    health: async () => ({ version: name, endpoint: name }),
    provision: async () => undefined,
    stop: async () => undefined,
    pid: () => undefined,
  };
}

test('the Web UI is brought up after the Temporal server it fronts, in either persistence mode', () => {
  for (const persistence of ['sqlite', 'postgres']) {
    const list = components(loadStackConfig({ ...process.env, TEMPORAL_PERSISTENCE: persistence }));
    const ui = list.find((c) => c.name === 'temporal-ui')!;
    const server = list[list.indexOf(ui) - 1]!;
    expect(server.name).toMatch(/^temporal/);
    expect(ui.after).toEqual([server]);
  }
});

test('a component starts only once what it comes after is up; the others do not wait', async () => {
  const events: string[] = [];
  const serverBuilt = deferred();
  const server = fake('server');
  const ui = fake('ui', [server]);
  const other = fake('other');
  const bringUp = async (c: Component): Promise<ComponentStatus> => {
    events.push(`${c.name} begins`);
    if (c === server) await serverBuilt.promise;
    events.push(`${c.name} up`);
    return { name: c.name, up: true };
  };
  const all = Promise.all(upInOrder([server, ui, other], bringUp));
  await new Promise((r) => setImmediate(r));
  expect(events).toEqual(['server begins', 'other begins', 'other up']);
  serverBuilt.resolve();
  expect((await all).map((s) => s.name)).toEqual(['server', 'ui', 'other']);
  expect(events.indexOf('ui begins')).toBeGreaterThan(events.indexOf('server up'));
});

test('each component is brought up once, however many come after it', async () => {
  const server = fake('server');
  const calls: string[] = [];
  const bringUp = async (c: Component): Promise<ComponentStatus> => {
    calls.push(c.name);
    return { name: c.name, up: true };
  };
  await Promise.all(upInOrder([server, fake('a', [server]), fake('b', [server])], bringUp));
  expect(calls.sort()).toEqual(['a', 'b', 'server']);
});

test('when what it comes after fails, the component is not started and says why', async () => {
  const server = fake('server');
  const ui = fake('ui', [server]);
  const started: string[] = [];
  const bringUp = async (c: Component): Promise<ComponentStatus> => {
    started.push(c.name);
    if (c === server) throw new Error('server failed to start: port held\n--- log tail');
    return { name: c.name, up: true };
  };
  const [s, u] = upInOrder([server, ui], bringUp).map((p) =>
    p.then(
      () => 'up',
      (e: Error) => e.message,
    ),
  );
  expect(await s).toMatch(/port held/);
  expect(await u).toBe('ui not started: server failed to start: port held');
  expect(started).toEqual(['server']);
});
