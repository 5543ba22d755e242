/**
 * Apache Kafka from Maven Central (jars cached outside the repo, keyed by version), single
 * node in KRaft mode (broker + controller in one JVM). Topics are created by the project;
 * the broker never auto-creates them.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  Kafka,
  logLevel,
  ResourcePatternTypes,
  type AclEntry,
  type KafkaConfig,
} from 'kafkajs';
import { repoRoot } from '../../lib/config';
import { kafkaConnection } from '../../services/platform/messaging/kafka';
import type { StackConfig } from './config';
import { componentDir, VERSIONS, type Component, type Health } from './component';
import { CERTS, type Pki } from './pki';
import { aptInstall, log, onPath, ownedPid, run, spawnDaemon, stopPid } from './proc';
import { kafkaAdminSasl, kafkaCredentials, KAFKA_PRINCIPALS, securePki } from './secure';

/** TLS and SASL beyond the brokers: how a client authenticates (none on the developer stack). */
export type KafkaAuth = Pick<KafkaConfig, 'ssl' | 'sasl'>;

/** The stack's own admin connection: the developer stack's plaintext, or the secure stack's super user over SASL_SSL. */
export function stackKafkaAuth(cfg: StackConfig): KafkaAuth {
  const pki = securePki(cfg);
  if (!pki) return {};
  const { ssl, sasl } = kafkaConnection({ brokers: [], ssl: { ca: fs.readFileSync(pki.caCert, 'utf8') }, sasl: kafkaAdminSasl(pki) });
  return { ssl, sasl };
}

/** PEM text as one properties value (Java's Properties reads `\n` as a line break). */
const pemValue = (file: string) => fs.readFileSync(file, 'utf8').trim().replace(/\r?\n/g, '\\n');

/**
 * The secure broker: clients on a SASL_SSL listener (SCRAM-SHA-512), the controller on an SSL
 * listener that requires a client certificate from the stack's CA, StandardAuthorizer with
 * no access where no ACL allows it, and the stack's admin and the node itself as super users.
 */
function secureListenerConfig(pki: Pki, host: string, port: number, controller: number): string[] {
  const admin = kafkaAdminSasl(pki);
  const server = pki.cert('server');
  return [
    `listeners=SASL_SSL://${host}:${port},CONTROLLER://${host}:${controller}`,
    `advertised.listeners=SASL_SSL://${host}:${port}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL',
    'inter.broker.listener.name=SASL_SSL',
    'sasl.enabled.mechanisms=SCRAM-SHA-512',
    'sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512',
    `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${admin.username}" password="${admin.password}";`,
    'ssl.keystore.type=PEM',
    `ssl.keystore.certificate.chain=${pemValue(server.cert)}`,
    `ssl.keystore.key=${pemValue(server.key)}`,
    'ssl.truststore.type=PEM',
    `ssl.truststore.certificates=${pemValue(pki.caCert)}`,
    'listener.name.controller.ssl.client.auth=required',
    'ssl.endpoint.identification.algorithm=https',
    'authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'allow.everyone.if.no.acl.found=false',
    `super.users=User:${admin.username};User:CN=${CERTS.server.cn}`,
  ];
}

/**
 * Each app principal's ACLs: the relay writes the event topic; each consumer reads the event
 * topic in its own group only and writes dead letters; the API and the operators' CLI replay
 * dead letters to the event topic. Nothing else (no topic creation, no other group, no DLQ read).
 */
export function appAcls(cfg: StackConfig): AclEntry[] {
  const { eventsTopic, dlqTopic } = cfg.kafka;
  const allow = (principal: string, resourceType: AclResourceTypes, resourceName: string, operation: AclOperationTypes): AclEntry => ({
    principal: `User:${principal}`,
    host: '*',
    resourceType,
    resourceName,
    resourcePatternType: ResourcePatternTypes.LITERAL,
    operation,
    permissionType: AclPermissionTypes.ALLOW,
  });
  const topic = (p: string, name: string, op: AclOperationTypes) => allow(p, AclResourceTypes.TOPIC, name, op);
  const consumer = (name: 'audit' | 'notifications') => {
    const p = KAFKA_PRINCIPALS[`consumer-${name}`];
    return [
      topic(p, eventsTopic, AclOperationTypes.READ),
      allow(p, AclResourceTypes.GROUP, `${cfg.consumers.groupPrefix}${name}`, AclOperationTypes.READ),
      topic(p, dlqTopic, AclOperationTypes.WRITE),
      topic(p, dlqTopic, AclOperationTypes.DESCRIBE),
    ];
  };
  const replayer = (p: string) => [topic(p, eventsTopic, AclOperationTypes.WRITE), topic(p, eventsTopic, AclOperationTypes.DESCRIBE)];
  return [
    ...replayer(KAFKA_PRINCIPALS.relay),
    ...consumer('audit'),
    ...consumer('notifications'),
    ...replayer(KAFKA_PRINCIPALS.api),
    ...replayer(KAFKA_PRINCIPALS.operator),
  ];
}

/**
 * StorageTool's arguments to format a node's storage. base64url ids may begin with '-': the id
 * goes as `--cluster-id=<id>`, never as an argument of its own (`-t -VHG...` failed at start:
 * "argument --cluster-id/-t: expected one argument").
 */
export function storageFormatArgs(clusterId: string, props: string, extra: string[] = []): string[] {
  return ['format', `--cluster-id=${clusterId}`, '-c', props, ...extra];
}

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
    const pki = securePki(this.cfg);
    const listeners = pki
      ? secureListenerConfig(pki, host, port, controller)
      : [
          `listeners=PLAINTEXT://${host}:${port},CONTROLLER://${host}:${controller}`,
          `advertised.listeners=PLAINTEXT://${host}:${port}`,
          'controller.listener.names=CONTROLLER',
          'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
          'inter.broker.listener.name=PLAINTEXT',
        ];
    // The secure broker's file holds its key and the admin's password.
    fs.writeFileSync(
      props,
      [
        'process.roles=broker,controller',
        'node.id=1',
        `controller.quorum.voters=1@${host}:${controller}`,
        ...listeners,
        `log.dirs=${this.dataDir}`,
        `num.partitions=${this.cfg.kafka.eventsPartitions}`,
        'auto.create.topics.enable=false',
        'offsets.topic.replication.factor=1',
        'transaction.state.log.replication.factor=1',
        'transaction.state.log.min.isr=1',
        'group.initial.rebalance.delay.ms=0',
        'log.retention.hours=168',
      ].join('\n') + '\n',
      { mode: 0o600 },
    );
    fs.chmodSync(props, 0o600);
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
      // The secure broker's SCRAM users go into its first metadata (the inter-broker login needs its own before it starts).
      const pki = securePki(this.cfg);
      const scram = pki
        ? kafkaCredentials(pki).flatMap((u) => ['--add-scram', `SCRAM-SHA-512=[name=${u.name},password=${u.password}]`])
        : [];
      await run('java', this.java('kafka.tools.StorageTool', storageFormatArgs(clusterId, props, scram), 256));
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
      ...stackKafkaAuth(this.cfg),
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
        version: `Apache Kafka ${VERSIONS.kafka} (KRaft, cluster ${cluster.clusterId})${securePki(this.cfg) ? ', SASL_SSL + ACLs' : ''}`,
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
    const auth = stackKafkaAuth(this.cfg);
    await ensureTopics(
      this.cfg.kafka.brokers,
      [
        { topic: eventsTopic, numPartitions: eventsPartitions },
        { topic: dlqTopic, numPartitions: eventsPartitions },
      ],
      auth,
    );
    if (securePki(this.cfg)) await ensureAcls(this.cfg.kafka.brokers, appAcls(this.cfg), auth);
  }

  pid(): number | undefined {
    return ownedPid(this.pidFile, this.dir);
  }

  async stop(): Promise<void> {
    await stopPid(this.pid(), 30_000);
  }
}

/** Creates ACLs (an existing one is left as it is: Kafka treats a repeated ACL as a no-op). */
export async function ensureAcls(brokers: string[], acl: AclEntry[], auth: KafkaAuth): Promise<void> {
  const admin = new Kafka({ clientId: 'order-saga-admin', brokers, logLevel: logLevel.NOTHING, ...auth }).admin();
  await admin.connect();
  try {
    await admin.createAcls({ acl });
  } finally {
    await admin.disconnect();
  }
}

/** Creates each topic if missing; adds partitions to one that has fewer than asked. */
export async function ensureTopics(
  brokers: string[],
  topics: { topic: string; numPartitions: number }[],
  auth: KafkaAuth = {},
): Promise<void> {
  const kafka = new Kafka({ clientId: 'order-saga-admin', brokers, logLevel: logLevel.NOTHING, ...auth });
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
