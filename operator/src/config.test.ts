import { describe, expect, it } from 'vitest';
import { ConfigError } from '#contract/config-load.js';
import { defaultAndValidate, envName, loadConfig } from './config.js';

describe('operator config', () => {
  it('defaults to watching all namespaces with client-go leader-election timings', () => {
    const cfg = loadConfig({ POD_NAME: 'sentiment-operator-7f9c-abcde', POD_NAMESPACE: 'ops' }, []);
    expect(cfg).toMatchObject({
      namespaces: [], workers: 4, resyncSeconds: 600,
      leaderElection: { enabled: true, namespace: 'ops', leaseName: 'sentiment-operator', identity: 'sentiment-operator-7f9c-abcde', leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
      http: { host: '0.0.0.0', port: 8080 }, cluster: { imageVolumes: false, clusterDomain: 'cluster.local' }, logLevel: 'info',
    });
  });

  it('reads the environment, and flags over it', () => {
    const env = { [envName('namespaces')]: 'team-a, team-b', [envName('workers')]: '8', [envName('leader-elect')]: 'false', [envName('image-volumes')]: 'true' };
    const cfg = loadConfig(env, ['--workers=2', '--cluster-domain', 'corp.internal', '--http-port=9090']);
    expect(cfg).toMatchObject({ namespaces: ['team-a', 'team-b'], workers: 2, leaderElection: { enabled: false }, cluster: { imageVolumes: true, clusterDomain: 'corp.internal' }, http: { port: 9090 } });
  });

  it('reads booleans and lists as the runtime does', () => {
    const cfg = loadConfig({ [envName('leader-elect')]: '0', [envName('image-volumes')]: '1', [envName('namespaces')]: '' }, []);
    expect(cfg).toMatchObject({ namespaces: [], leaderElection: { enabled: false }, cluster: { imageVolumes: true } });
    expect(() => loadConfig({ [envName('leader-elect')]: 'yes' }, [])).toThrow('SENTIMENT_OPERATOR_LEADER_ELECT must be true or false (got "yes")');
    expect(() => loadConfig({ [envName('namespaces')]: 'team-a,team-a' }, [])).toThrow(/namespaces/);
  });

  it('names the offending setting', () => {
    expect(() => loadConfig({}, ['--workers=lots'])).toThrow(ConfigError);
    expect(() => loadConfig({}, ['--workers=lots'])).toThrow(/workers/);
    expect(() => loadConfig({}, ['--no-such-flag'])).toThrow(/flags: .*no-such-flag/);
    expect(() => loadConfig({ [envName('namespaces')]: 'Not_A_Namespace' }, [])).toThrow(/namespaces\.0/);
  });

  it('requires the leader to give up before anyone may take over', () => {
    const base = { leaderElection: { identity: 'x' } };
    expect(() => defaultAndValidate({ leaderElection: { identity: 'x', leaseDurationMs: 5000, renewDeadlineMs: 5000 } })).toThrow(/renewDeadlineMs must be below/);
    expect(() => defaultAndValidate({ leaderElection: { identity: 'x', retryPeriodMs: 10_000 } })).toThrow(/retryPeriodMs must be below/);
    expect(() => defaultAndValidate({ ...base, backoff: { baseDelayMs: 5000, maxDelayMs: 10 } })).toThrow(/baseDelayMs must not exceed/);
    expect(() => defaultAndValidate({ ...base, extra: 1 })).toThrow(ConfigError);
  });

  it('configures the autoscaler loop, with a scrape that cannot outlast a tick', () => {
    expect(loadConfig({}, []).autoscaler).toEqual({ intervalMs: 2000, scrapeTimeoutMs: 1000, persistIntervalSeconds: 30 });
    const cfg = loadConfig({ [envName('autoscaler-persist-interval-seconds')]: '10' }, ['--autoscaler-interval-ms=500', '--autoscaler-scrape-timeout-ms=200']);
    expect(cfg.autoscaler).toEqual({ intervalMs: 500, scrapeTimeoutMs: 200, persistIntervalSeconds: 10 });
    expect(() => loadConfig({}, ['--autoscaler-interval-ms=500'])).toThrow(/scrapeTimeoutMs must not exceed autoscaler.intervalMs/);
  });
});
