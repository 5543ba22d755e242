import { ConfigError, loadConfig } from '../../lib/config';
import { faultsFromEnv } from '../../lib/faults';

describe('the configuration module', () => {
  test('with no environment, every setting has its documented default', () => {
    const cfg = loadConfig({});
    expect(cfg.api).toMatchObject({ host: '127.0.0.1', port: 3000 });
    expect(cfg.temporal).toMatchObject({ address: '127.0.0.1:7233', namespace: 'default', uiPort: 8233 });
    expect(cfg.kafka).toMatchObject({ brokers: ['127.0.0.1:9092'], eventsTopic: 'orders.events', dlqTopic: 'orders.events.dlq', eventsPartitions: 3 });
    expect(cfg.database).toMatchObject({ host: '127.0.0.1', port: 55432, user: 'order_saga', database: 'order_saga' });
    expect(cfg.relay).toEqual({ batchSize: 1000, pollIntervalMs: 1000, rebalanceIntervalMs: 2000, retentionMs: 7 * 24 * 3600_000, pruneIntervalMs: 60_000, maxBackoffMs: 5000 });
    expect(cfg.consumers).toMatchObject({ groupPrefix: 'order-saga.', maxAttempts: 5, retryBaseMs: 200, retryMaxMs: 10_000, sessionTimeoutMs: 30_000 });
    expect(cfg.workers).toMatchObject({ taskQueuePrefix: '', compensationWindowMs: 7 * 24 * 3600_000, compensationMaxAttempts: 10 });
  });

  test.each([
    ['API_PORT', 'abc', 'expected an integer'],
    ['API_PORT', '70000', 'expected 1..65535'],
    ['DATABASE_URL', 'mysql://u@h/db', 'expected a postgresql:// URL'],
    ['DATABASE_URL', 'postgresql://u@h:5432/', 'names no database'],
    ['TEMPORAL_ADDRESS', 'no-port', 'expected host:port'],
    ['KAFKA_BROKERS', ' , ', 'no broker given'],
    ['KAFKA_BROKERS', '127.0.0.1:9092,oops', 'expected host:port'],
    ['KAFKA_EVENTS_TOPIC', 'bad topic!', 'not a valid Kafka topic name'],
    ['KAFKA_EVENTS_PARTITIONS', '2', 'expected 3..1000'],
    ['LOG_LEVEL', 'loud', 'expected one of'],
    ['NODE_ENV', 'staging', 'expected one of'],
    ['RELAY_BATCH_SIZE', 'lots', 'expected an integer, got "lots"'],
    ['CONSUMER_MAX_ATTEMPTS', '0', 'expected 1..100'],
    ['CONSUMER_GROUP_PREFIX', 'has space', "expected letters, digits"],
    ['ADMIN_API_KEY', 'too-short-to-guess', 'must be at least 32 characters'],
  ])('when %s=%j, then a ConfigError names the variable', (variable, value, message) => {
    let error: unknown;
    try {
      loadConfig({ [variable]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as ConfigError).message).toContain(message);
  });

  test('fault injection is refused unless NODE_ENV=test (development included) and must be a JSON array', () => {
    expect(() => faultsFromEnv({ FAULT_INJECTION: '[]' }, 'production')).toThrow(/refused/);
    expect(() => faultsFromEnv({ FAULT_INJECTION: '[]' }, 'development')).toThrow(/refused unless NODE_ENV=test/);
    expect(faultsFromEnv({ FAULT_INJECTION: '[]' }, 'test')).toBeDefined();
    expect(() => faultsFromEnv({ FAULT_INJECTION: '{"point":1}' }, 'test')).toThrow(/JSON array/);
    expect(() => faultsFromEnv({ FAULT_INJECTION: 'nope' }, 'test')).toThrow(/not valid JSON/);
  });
});
