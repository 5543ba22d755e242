/**
 * Apache Kafka from Maven Central (jars cached outside the repo, keyed by version), single
 * node in KRaft mode (broker + controller in one JVM). Topics are created by the project;
 * the broker never auto-creates them.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { repoRoot } from '../../lib/config';
import type { StackConfig } from './config';
import { componentDir, VERSIONS, type Component, type Health } from './component';
import { aptInstall, log, onPath, ownedPid, run, spawnDaemon, stopPid } from './proc';

export class KafkaBroker implements Component {
  readonly name = 'kafka';
  private readonly dir: string;
  private readonly dataDir: string;
  readonly logFile: string;
  private readonly pidFile: string;
  private readonly libDir: string;

  constructor(private readonly cfg: StackConfig) {
    this.dir = componentDir(cfg, 'kafka');
    this.dataDir = path.join(this.dir, 'data');
    this.logFile = path.join(this.dir, 'kafka.log');
    this.pidFile = path.join(this.dir, 'kafka.pid');
    this.libDir = path.join(cfg.stack.cacheDir, `kafka-${VERSIONS.kafka}`, 'libs');
  }

  async install(): Promise<void> {
    if (fs.existsSync(path.join(this.libDir, '.complete'))) return;
    if (!(await onPath('java')) || !(await onPath('mvn'))) {
      await aptInstall(['openjdk-17-jre-headless', 'maven'], 'Kafka needs Java and Maven');
    }
    log(`fetching Apache Kafka ${VERSIONS.kafka} from Maven Central (first time only)`);
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kafka-libs-'));
    await run('mvn', [
      '-q',
      '-B',
      '-f',
      path.join(repoRoot, 'scripts', 'stack', 'kafka-pom.xml'),
      `-Dkafka.version=${VERSIONS.kafka}`,
      'dependency:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${scratch}`,
    ]);
    fs.writeFileSync(path.join(scratch, '.complete'), `${VERSIONS.kafka}\n`);
    fs.mkdirSync(path.dirname(this.libDir), { recursive: true });
    fs.rmSync(this.libDir, { recursive: true, force: true });
    fs.renameSync(scratch, this.libDir);
  }

  private brokerAddress(): { host: string; port: number } {
    const [host, port] = this.cfg.kafka.brokers[0]!.split(':');
    return { host: host!, port: Number(port) };
  }

  private writeConfig(): string {
    const { host, port } = this.brokerAddress();
    const controller = this.cfg.stack.kafka.controllerPort;
    const props = path.join(this.dir, 'server.properties');
    fs.writeFileSync(
      props,
      [
        'process.roles=broker,controller',
        'node.id=1',
        `controller.quorum.voters=1@${host}:${controller}`,
        `listeners=PLAINTEXT://${host}:${port},CONTROLLER://${host}:${controller}`,
        `advertised.listeners=PLAINTEXT://${host}:${port}`,
        'controller.listener.names=CONTROLLER',
        'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
        'inter.broker.listener.name=PLAINTEXT',
        `log.dirs=${this.dataDir}`,
        `num.partitions=${this.cfg.kafka.eventsPartitions}`,
        'auto.create.topics.enable=false',
        'offsets.topic.replication.factor=1',
        'transaction.state.log.replication.factor=1',
        'transaction.state.log.min.isr=1',
        'group.initial.rebalance.delay.ms=0',
        'log.retention.hours=168',
      ].join('\n') + '\n',
    );
    fs.writeFileSync(
      path.join(this.dir, 'log4j2.properties'),
      [
        'status = warn',
        'appender.console.type = Console',
        'appender.console.name = STDOUT',
        'appender.console.layout.type = PatternLayout',
        'appender.console.layout.pattern = [%d] %p %m (%c)%n',
        'rootLogger.level = info',
        'rootLogger.appenderRef.stdout.ref = STDOUT',
        'logger.kafka.name = kafka',
        'logger.kafka.level = warn',
        'logger.apache.name = org.apache.kafka',
        'logger.apache.level = warn',
        'logger.started.name = kafka.server.KafkaRaftServer',
        'logger.started.level = info',
      ].join('\n') + '\n',
    );
    return props;
  }

  private java(mainClass: string, args: string[], heapMb: number): string[] {
    return [
      `-Xms${Math.min(256, heapMb)}m`,
      `-Xmx${heapMb}m`,
      '-XX:+UseG1GC',
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${path.join(this.dir, 'log4j2.properties')}`,
      '-cp',
      `${this.libDir}/*`,
      mainClass,
      ...args,
    ];
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true });
    const props = this.writeConfig();
    if (!fs.existsSync(path.join(this.dataDir, 'meta.properties'))) {
      // A KRaft cluster id is 16 random bytes, base64url without padding.
      const clusterId = crypto.randomBytes(16).toString('base64url');
      await run('java', this.java('kafka.tools.StorageTool', ['format', '-t', clusterId, '-c', props], 256));
    }
    spawnDaemon('java', this.java('kafka.Kafka', [props], this.cfg.stack.kafka.heapMb), {
      logFile: this.logFile,
      pidFile: this.pidFile,
      cwd: this.dir,
    });
  }

  private client(): Kafka {
    return new Kafka({
      clientId: 'order-saga-stack',
      brokers: this.cfg.kafka.brokers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 2000,
      retry: { retries: 0 },
    });
  }

  async health(): Promise<Health> {
    const admin = this.client().admin();
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      if (cluster.brokers.length === 0) throw new Error('no broker in cluster metadata');
      return {
        version: `Apache Kafka ${VERSIONS.kafka} (KRaft, cluster ${cluster.clusterId})`,
        endpoint: this.cfg.kafka.brokers.join(','),
        extra: `topics ${this.cfg.kafka.eventsTopic}, ${this.cfg.kafka.dlqTopic}`,
      };
    } finally {
      await admin.disconnect();
    }
  }

  /** Creates the event topic and its dead-letter topic, growing partitions if too few. */
  async provision(): Promise<void> {
    const { eventsTopic, dlqTopic, eventsPartitions } = this.cfg.kafka;
    await ensureTopics(this.cfg.kafka.brokers, [
      { topic: eventsTopic, numPartitions: eventsPartitions },
      { topic: dlqTopic, numPartitions: eventsPartitions },
    ]);
  }

  pid(): number | undefined {
    return ownedPid(this.pidFile, this.dir);
  }

  async stop(): Promise<void> {
    await stopPid(this.pid(), 30_000);
  }
}

/** Creates each topic if missing; adds partitions to one that has fewer than asked. */
export async function ensureTopics(brokers: string[], topics: { topic: string; numPartitions: number }[]): Promise<void> {
  const kafka = new Kafka({ clientId: 'order-saga-admin', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const toCreate = topics.filter((t) => !existing.has(t.topic));
    if (toCreate.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: toCreate.map((t) => ({ ...t, replicationFactor: 1 })),
      });
    }
    const metadata = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic) });
    const grow = topics.filter((t) => {
      const meta = metadata.topics.find((m) => m.name === t.topic);
      return meta !== undefined && meta.partitions.length < t.numPartitions;
    });
    if (grow.length > 0) {
      await admin.createPartitions({ topicPartitions: grow.map((t) => ({ topic: t.topic, count: t.numPartitions })) });
    }
  } finally {
    await admin.disconnect();
  }
}
