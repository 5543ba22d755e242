import { instanceEnv, MAX_INSTANCES, parseScale, scaleArg, ScaleSpecError } from '../../app/instances';
import type { Role } from '../../app/processes';

const ROLES: Role[] = ['api', 'worker-payments', 'relay', 'consumer-audit'];

describe('parseScale', () => {
  test('when roles are named with counts, then each gets its count', () => {
    expect(parseScale('worker-payments=2,relay=2', ROLES)).toEqual({ 'worker-payments': 2, relay: 2 });
    expect(parseScale(` relay=${MAX_INSTANCES} `, ROLES)).toEqual({ relay: MAX_INSTANCES });
    expect(parseScale('api=1', ROLES)).toEqual({ api: 1 });
  });

  test.each([
    ['', /needs role=N/],
    ['relay', /"relay" is not role=N/],
    ['relay=', /not role=N/],
    ['relay=two', /not role=N/],
    ['relay=-1', /not role=N/],
    ['relay=2,', /"" is not role=N/],
    ['relay=2;api=2', /not role=N/],
    ['relay=1.5', /not role=N/],
    ['workers=2', /unknown role "workers"/],
    ['relay=0', /relay=0 is out of range \(1\.\.8\)/],
    [`relay=${MAX_INSTANCES + 1}`, /out of range/],
    ['relay=2,relay=3', /relay is named twice/],
  ])('when the spec is %j, then it is refused', (spec, message) => {
    const run = () => parseScale(spec, ROLES);
    expect(run).toThrow(ScaleSpecError);
    expect(run).toThrow(message);
  });
});

describe('scaleArg', () => {
  test('when --scale is given either way, then its value is returned', () => {
    expect(scaleArg([])).toBeUndefined();
    expect(scaleArg(['--scale', 'relay=2'])).toBe('relay=2');
    expect(scaleArg(['--scale=relay=2'])).toBe('relay=2');
  });

  test.each([[['--scale']], [['--scale', '--verbose']], [['--scael', 'relay=2']], [['relay=2']], [['--scale', 'relay=2', 'extra']]])(
    'when the arguments are %j, then they are refused',
    (argv) => expect(() => scaleArg(argv)).toThrow(ScaleSpecError),
  );
});

describe('instanceEnv', () => {
  test('when instances of every role run side by side, then no two share a port', () => {
    const base = { apiPort: 3000, metricsPortBase: 9100, kafkaClientId: 'order-saga' };
    const offsets = [1, 2, 3, 4, 5, 6, 7, 8];
    const ports = Array.from({ length: MAX_INSTANCES }, (_, i) => instanceEnv(base, i)).flatMap((env) => [
      Number(env.API_PORT),
      ...offsets.map((o) => Number(env.METRICS_PORT_BASE) + o),
    ]);
    expect(new Set(ports).size).toBe(ports.length);
    expect(instanceEnv(base, 1)).toEqual({ API_PORT: '3001', METRICS_PORT_BASE: '9120', KAFKA_CLIENT_ID: 'order-saga-1' });
  });
});
