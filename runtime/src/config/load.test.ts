import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '#contract/config-load.js';
import { loadConfig } from './load.js';

function file(name: string, content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'cfg-')), name);
  writeFileSync(path, content);
  return path;
}

describe('loadConfig', () => {
  it('fills every default when given nothing', () => {
    const config = loadConfig({});
    expect(config.batching.maxBatchSize).toBe(32);
    expect(config.server.port).toBe(8080);
    expect(config.session.executionProvider).toBe('cpu');
  });

  it('layers file <- environment <- flags, later sources winning', () => {
    const path = file('c.yaml', 'batching:\n  maxBatchSize: 8\n  maxQueue: 10\nserver:\n  port: 9000\n');
    const config = loadConfig({
      file: path,
      env: { SENTIMENT_BATCHING_MAX_BATCH_SIZE: '16', SENTIMENT_CACHE_ENABLED: 'false', SENTIMENT_K8S_BIN: '/opt/k8s', PATH: '/bin' },
      argv: ['--batching.maxBatchSize=4', '--model.labels', 'bad,good'],
    });
    expect(config.batching).toMatchObject({ maxBatchSize: 4, maxQueue: 10 });
    expect(config.server.port).toBe(9000);
    expect(config.cache.enabled).toBe(false);
    expect(config.model.labels).toEqual(['bad', 'good']);
  });

  it('reads JSON files too', () => {
    const config = loadConfig({ file: file('c.json', '{"model": {"quantization": "int8", "maxSequenceLength": 64}}') });
    expect(config.model).toMatchObject({ quantization: 'int8', maxSequenceLength: 64 });
  });

  it.each([
    [{ file: 'model:\n  bogus: 1\n' }, 'config: unknown key model.bogus (known keys of model: path, name, revision, quantization, maxSequenceLength, labels)'],
    [{ file: 'extra: {}\n' }, 'config: unknown key extra (known keys: model, session, batching, cache, server, auth, logging, stream)'],
    [{ file: 'batching:\n  maxBatchSize: 0\n' }, 'batching.maxBatchSize must be >= 1'],
    [{ file: 'batching:\n  maxBatchDelayMs: 5000\n' }, 'batching.maxBatchDelayMs must be <= 1000'],
    [{ file: 'model:\n  quantization: int4\n' }, 'config: model.quantization must be one of none, fp16, int8 (got "int4")'],
    [{ file: 'logging:\n  level: verbose\n' }, 'config: logging.level must be one of fatal, error, warn, info, debug, trace, silent (got "verbose")'],
    [{ file: 'server: [1, 2]\n' }, 'server'],
    [{ file: 'batching: {maxBatchSize: [' }, 'is not valid YAML/JSON'],
    [{ env: { SENTIMENT_BATCHING_MAX_BACH_SIZE: '3' } }, 'unknown environment variable SENTIMENT_BATCHING_MAX_BACH_SIZE (known: SENTIMENT_BATCHING_MAX_BATCH_SIZE, '],
    [{ env: { SENTIMENT_SERVER_PORT: 'eighty' } }, 'must be a number (got "eighty")'],
    [{ argv: ['--server.prot=1'] }, 'config: unknown flag --server.prot (known keys of server: host, port, probePort, processes, '],
    [{ argv: ['--sever.port=1'] }, 'config: unknown flag --sever.port (sections: model, session, batching, cache, server, auth, logging, stream)'],
    [{ argv: ['--server.port'] }, 'flag --server.port needs a value'],
    [{ argv: ['--cache.enabled=maybe'] }, 'must be true or false'],
    [{ file: 'stream:\n  inputTopic: texts\n' }, 'stream.inputTopic need stream.bootstrapServers'],
    [{ file: 'stream:\n  bootstrapServers: [k:9092]\n  inputTopic: texts\n' }, 'stream.outputTopic is required with stream.bootstrapServers'],
    [{ file: 'stream:\n  bootstrapServers: [k:9092]\n  inputTopic: t\n  outputTopic: t\n' }, 'stream.inputTopic must differ'],
    [{ file: 'stream:\n  inputTopic: "a b"\n' }, 'stream.inputTopic must match pattern'],
    [{ env: { SENTIMENT_STREAM_BOOTSTRAP_SERVERS: 'k:9092', SENTIMENT_STREAM_INPUT_TOPIC: 'in', SENTIMENT_STREAM_OUTPUT_TOPIC: 'out', SENTIMENT_STREAM_SASL_MECHANISM: 'PLAIN' } }, 'stream.saslMechanism PLAIN needs stream.saslUsername and stream.saslPassword'],
    [{ env: { SENTIMENT_STREAM_BOOTSTRAP_SERVERS: 'k:9092', SENTIMENT_STREAM_INPUT_TOPIC: 'in', SENTIMENT_STREAM_OUTPUT_TOPIC: 'out', SENTIMENT_STREAM_TLS_CERT_FILE: '/c' } }, 'stream.tlsCertFile and stream.tlsKeyFile go together'],
    [{ argv: ['--stream.bootstrapServers=k:9092', '--stream.inputTopic=in', '--stream.outputTopic=out', '--stream.maxInFlight=4096'] }, 'stream.maxInFlight must be below batching.maxQueue'],
  ])('rejects %j naming the problem', (input, message) => {
    const sources = { ...input, file: 'file' in input ? file('c.yaml', input.file) : undefined };
    expect(() => loadConfig(sources)).toThrow(ConfigError);
    expect(() => loadConfig(sources)).toThrow(message);
  });

  it('takes stream settings from the environment, credentials included, which the operator sets from a Secret', () => {
    const config = loadConfig({
      file: file('c.yaml', 'stream:\n  bootstrapServers: [kafka-0:9092]\n  inputTopic: texts\n  outputTopic: results\n  inputField: payload.text\n'),
      env: { SENTIMENT_STREAM_BOOTSTRAP_SERVERS: 'kafka-0:9093,kafka-1:9093', SENTIMENT_STREAM_SASL_MECHANISM: 'SCRAM-SHA-512', SENTIMENT_STREAM_SASL_USERNAME: 'u', SENTIMENT_STREAM_SASL_PASSWORD: 'p' },
    });
    expect(config.stream).toMatchObject({ bootstrapServers: ['kafka-0:9093', 'kafka-1:9093'], inputTopic: 'texts', outputTopic: 'results', inputField: 'payload.text', saslMechanism: 'SCRAM-SHA-512', saslPassword: 'p', startOffset: 'earliest', maxInFlight: 256 });
    expect(loadConfig({}).stream.bootstrapServers).toBeUndefined();
  });

  it('names a missing config file', () => {
    expect(() => loadConfig({ file: '/nonexistent/config.yaml' })).toThrow('cannot read /nonexistent/config.yaml: ENOENT');
  });
});
