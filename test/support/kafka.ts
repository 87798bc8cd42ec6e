// A real, throwaway Apache Kafka broker for stream tests: one KRaft node that is both broker and
// controller, on loopback ports, its data and logs in a temp dir. The jars come from
// hack/kafka-setup.sh (Maven Central, cached outside the repo) and run on the machine's Java 17.
// The process runs in its own process group; stop() kills it and removes the dir, also after a
// failed start (set SENTIMENT_KAFKA_KEEP=1 to keep the dir and broker.log).
//   hack/dev npm run kafka        a broker by hand, until Ctrl-C
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Admin } from '@platformatic/kafka';
import { freePorts, tail } from './controlplane.js';
import { makeTestCa } from './tls.js';
import { waitFor } from './kube.js';
import { signalGroup, spawnGroup, terminateGroup, type GroupProcess } from './process-group.js';

export const KAFKA_VERSION = '4.4.0';

/** Where the jars live: $SENTIMENT_KAFKA_LIBS, else the cache hack/kafka-setup.sh fills. */
export function kafkaLibsDir(): string {
  if (process.env.SENTIMENT_KAFKA_LIBS) return process.env.SENTIMENT_KAFKA_LIBS;
  const cacheRoot = process.env.SENTIMENT_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sentiment-operator');
  return join(cacheRoot, `kafka-${KAFKA_VERSION}`, 'libs');
}

export interface TopicSpec { name: string; partitions?: number }

export interface KafkaBroker {
  /** host:port of the PLAINTEXT listener, for bootstrapBrokers. */
  bootstrap: string;
  /** Temp dir holding server.properties, data/ and broker.log. */
  dir: string;
  /** Creates topics (replication factor 1) and waits until every partition has a leader. */
  createTopics(topics: TopicSpec[]): Promise<void>;
  /** An outage: kills the broker (SIGKILL: no controlled shutdown) and keeps its data. */
  halt(): Promise<void>;
  /** Starts the halted broker again on the same ports and data, and waits until it serves. */
  resume(): Promise<void>;
  stop(): Promise<void>;
  /** With `secured`: the SASL_SSL listener and the CA file a client must trust for it. */
  secured?: { bootstrap: string; caFile: string };
}

/**
 * A second listener, SASL over TLS, beside the PLAINTEXT one the harness keeps using: its server
 * certificate (PEM, for 127.0.0.1) from a throwaway CA, SCRAM users written into the metadata
 * at format time, PLAIN users in the listener's JAAS config.
 */
export interface SecuredListenerOptions {
  scramSha512Users?: { username: string; password: string }[];
  plainUsers?: { username: string; password: string }[];
}

export interface KafkaOptions {
  secured?: SecuredListenerOptions;
}

/** The broker's readiness within this long covers a cold JVM on a loaded 2-core machine. */
const START_TIMEOUT_MS = 90_000;

export async function startKafka(options: KafkaOptions = {}): Promise<KafkaBroker> {
  const libs = kafkaLibsDir();
  if (!existsSync(join(libs, '.complete'))) {
    throw new Error(`Kafka jars missing in ${libs}; run \`bash hack/kafka-setup.sh\` (or set SENTIMENT_KAFKA_LIBS)`);
  }
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'sentiment-kafka-'));
  let proc: GroupProcess | undefined;
  let admin: Admin | undefined;
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= Promise.all([admin?.close().catch(() => undefined), proc && terminate(proc)]).then(() => {
    process.off('exit', killOnExit);
    if (!process.env.SENTIMENT_KAFKA_KEEP) rmSync(dir, { recursive: true, force: true });
  }));
  const killOnExit = () => { if (proc) signalGroup(proc, 'SIGKILL'); };
  process.on('exit', killOnExit);

  try {
    const [port, controllerPort, securedPort] = await freePorts(3);
    const bootstrap = `127.0.0.1:${port}`;
    const properties = join(dir, 'server.properties');
    const secured = options.secured && securedListener(dir, { plaintext: port!, controller: controllerPort!, secured: securedPort! }, options.secured);
    writeFileSync(properties, serverProperties(dir, port!, controllerPort!) + (secured?.properties ?? ''));
    writeFileSync(join(dir, 'log4j2.properties'), LOG4J2);
    await promisify(execFile)('java', [...JVM_FLAGS, '-cp', join(libs, '*'), 'kafka.tools.StorageTool', 'format',
      '--cluster-id', clusterId(), '--config', properties, ...(secured?.formatArgs ?? [])], { cwd: dir }).catch((e: Error & { stderr?: string; stdout?: string }) => {
      throw new Error(`kafka-storage format failed: ${e.stderr ?? ''}${e.stdout ?? ''}${e.message}`);
    });

    const harness = new Admin({ clientId: 'kafka-harness', bootstrapBrokers: [bootstrap], retries: 0, timeout: 5_000 });
    admin = harness;
    const start = async () => {
      proc = launch(dir, libs, properties);
      const p = proc;
      // Metadata naming this node means the controller has registered the broker and it takes requests.
      await waitFor(async () => p.exitCode !== undefined || (await harness.metadata({ topics: [], forceUpdate: true })).brokers.has(1),
        START_TIMEOUT_MS, () => `Kafka broker on ${bootstrap} not ready; broker.log:\n${tail(p.log)}`, 250);
      if (p.exitCode !== undefined) throw new Error(`Kafka broker exited (${p.exitCode}) during startup; broker.log:\n${tail(p.log)}`);
    };
    await start();

    const createTopics = async (topics: TopicSpec[]) => {
      await harness.createTopics({ topics: topics.map((t) => ({ topic: t.name, partitions: t.partitions ?? 1, replicas: 1 })) });
      const names = topics.map((t) => t.name);
      await waitFor(async () => {
        const md = await harness.metadata({ topics: names, forceUpdate: true });
        return names.every((n) => md.topics.get(n)?.partitions.every((p) => p.leader === 1));
      }, 30_000, `topics ${names.join(', ')} got no leader`);
    };
    const halt = async () => { if (proc) await terminate(proc, 'SIGKILL'); };
    const resume = async () => {
      if (proc?.exitCode === undefined) throw new Error('resume(): the broker is still running');
      await start();
    };
    return { bootstrap, dir, createTopics, halt, resume, stop, ...(secured ? { secured: { bootstrap: `127.0.0.1:${securedPort}`, caFile: secured.caFile } } : {}) };
  } catch (err) {
    await stop();
    throw err;
  }
}

// A small heap and the serial collector: one test broker on a shared 2-core machine.
const JVM_FLAGS = ['-Xms256m', '-Xmx768m', '-XX:+UseSerialGC', '-Djava.awt.headless=true'];

function serverProperties(dir: string, port: number, controllerPort: number): string {
  return `process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${controllerPort}
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${join(dir, 'data')}
# Topics exist only when a test creates them, as on a cluster that forbids auto-creation.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
# One node: every internal topic has a single replica, and few partitions so it is created fast.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# A group's first member is assigned at once instead of after the default 3 s wait for others.
group.initial.rebalance.delay.ms=0
`;
}

/** Broker log at INFO to stdout (which goes to broker.log), the request and state-change chatter at WARN. */
const LOG4J2 = `rootLogger.level=INFO
rootLogger.appenderRef.out.ref=out
appender.out.type=Console
appender.out.name=out
appender.out.layout.type=PatternLayout
appender.out.layout.pattern=[%d] %p %m (%c)%n
logger.request.name=kafka.request.logger
logger.request.level=WARN
logger.state.name=state.change.logger
logger.state.level=WARN
`;

/**
 * A KRaft cluster id: 16 random bytes, base64url without padding, as `kafka-storage random-uuid`
 * prints; like Kafka's own Uuid, never one starting with '-', which the tool's argument parser
 * would read as an option (1 run in 64 failed "--cluster-id: expected one argument").
 */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function launch(dir: string, libs: string, properties: string): GroupProcess {
  return spawnGroup('kafka', 'java', [...JVM_FLAGS, `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`,
    `-Dkafka.logs.dir=${dir}`, '-cp', join(libs, '*'), 'kafka.Kafka', properties], { cwd: dir, log: join(dir, 'broker.log') });
}

/** SIGTERM (a controlled shutdown, a few seconds) and SIGKILL if it takes over 10 s; or SIGKILL at once. */
const terminate = (p: GroupProcess, sig: NodeJS.Signals = 'SIGTERM'): Promise<void> => terminateGroup(p, 10_000, sig);

/**
 * server.properties lines that add the SASL_SSL listener (later keys win over the base ones), and
 * the format arguments that create its SCRAM users.
 */
function securedListener(dir: string, ports: { plaintext: number; controller: number; secured: number }, options: SecuredListenerOptions): { properties: string; formatArgs: string[]; caFile: string } {
  const ca = makeTestCa(dir, ['127.0.0.1', 'localhost']);
  // Kafka reads a PEM key store as one file: the private key (PKCS#8) followed by its certificate chain.
  const keyStore = join(dir, 'server-keystore.pem');
  writeFileSync(keyStore, `${ca.serverKey}${ca.serverCert}`);
  const plain = (options.plainUsers ?? []).map(({ username, password }) => ` user_${username}="${password}"`).join('');
  return {
    caFile: join(dir, 'ca.crt'),
    properties: `
# A SASL_SSL listener for clients with credentials; the harness and inter-broker traffic stay on PLAINTEXT.
listeners=PLAINTEXT://127.0.0.1:${ports.plaintext},CONTROLLER://127.0.0.1:${ports.controller},SASL_SSL://127.0.0.1:${ports.secured}
advertised.listeners=PLAINTEXT://127.0.0.1:${ports.plaintext},SASL_SSL://127.0.0.1:${ports.secured}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=${keyStore}
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required${plain};
`,
    formatArgs: (options.scramSha512Users ?? []).flatMap(({ username, password }) => ['--add-scram', `SCRAM-SHA-512=[name=${username},password=${password}]`]),
  };
}
