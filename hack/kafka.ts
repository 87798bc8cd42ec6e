// `npm run kafka -- [--topic NAME[:PARTITIONS] ...]`: the tests' throwaway Kafka broker by hand, on
// loopback, until Ctrl-C (or SIGTERM), which stops it and removes its data. Prints the bootstrap
// address once it serves and the topics exist.
import { parseArgs } from 'node:util';
import { startKafka, type TopicSpec } from '../test/support/kafka.js';

const { values: args } = parseArgs({ options: { topic: { type: 'string', multiple: true, default: [] } } });
const topics: TopicSpec[] = args.topic.map((t) => {
  const [name = '', partitions = '1'] = t.split(':');
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(name) || !/^[1-9][0-9]*$/.test(partitions)) {
    console.error(`--topic ${t}: want NAME[:PARTITIONS], NAME of letters, digits, '.', '_' and '-'`);
    process.exit(2);
  }
  return { name, partitions: Number(partitions) };
});

const broker = await startKafka();
try {
  if (topics.length > 0) await broker.createTopics(topics);
} catch (err) {
  await broker.stop();
  throw err;
}
console.log(`Kafka broker on ${broker.bootstrap} (log: ${broker.dir}/broker.log); Ctrl-C stops it`);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void broker.stop().then(() => process.exit(0)));
