import { setTimeout as sleep } from 'node:timers/promises';
import type { KubernetesObject } from '@kubernetes/client-node';
import { PARTIAL_METADATA, PARTIAL_METADATA_LIST, type KubeClient, type WatchEvent } from './client.js';
import { classify, Failure } from './errors.js';

/** A list is read in pages of this many objects, so a large one never sits in memory as one string. */
const PAGE_SIZE = 500;
/** Watches end after a random 5 to 10 minutes, as client-go's, so reconnects of many clients spread out. */
const MIN_WATCH_SECONDS = 300;

export interface InformerOptions<T extends KubernetesObject> {
  /** The collection, e.g. /apis/apps/v1/namespaces/demo/deployments. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Only the objects' metadata, for kinds whose other fields nobody reads: less to transfer, parse and keep. */
  metadataOnly?: boolean;
  /** What the cache keeps of each object; every field dropped is memory saved per object. */
  keep: (obj: T) => T;
  onChange: (obj: T, deleted: boolean) => void;
  /** A list or watch failed; it is tried again after `retryInMs`. */
  onError: (err: unknown, retryInMs: number) => void;
  backoff?: { firstMs: number; maxMs: number };
}

interface List<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[] | null;
}

/**
 * A cache of one collection kept current the way client-go's reflector does it: list, then watch
 * from the list's resourceVersion (bookmarks keep it fresh while nothing changes), watch again
 * when the server ends the watch, list again when the version has expired (410 Gone), and retry
 * anything else with backoff for as long as it runs.
 */
export class Informer<T extends KubernetesObject> {
  private objects = new Map<string, Map<string, T>>();
  private resourceVersion?: string;
  private readonly stopping = new AbortController();
  private running?: Promise<void>;
  private markSynced!: () => void;
  /** Resolves once the first list is in the cache. */
  readonly synced = new Promise<void>((resolve) => (this.markSynced = resolve));
  isSynced = false;

  constructor(private readonly client: KubeClient, private readonly opts: InformerOptions<T>) {}

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
  }

  get(name: string, namespace = ''): T | undefined {
    return this.objects.get(namespace)?.get(name);
  }

  list(namespace?: string): T[] {
    if (namespace !== undefined) return [...(this.objects.get(namespace)?.values() ?? [])];
    return [...this.objects.values()].flatMap((byName) => [...byName.values()]);
  }

  private async run(): Promise<void> {
    // Capped low: after an apiserver outage the caches are what every reconcile reads, and a 30 s
    // cap (client-go's) left them stale for up to 16 s after the apiserver was back. One list or
    // watch per watched kind every 5 s is no load on an apiserver that is down anyway.
    const { firstMs, maxMs } = this.opts.backoff ?? { firstMs: 500, maxMs: 5000 };
    const { signal } = this.stopping;
    let delayMs = firstMs;
    while (!signal.aborted) {
      try {
        if (this.resourceVersion === undefined) {
          await this.relist();
          delayMs = firstMs;
        }
        await this.watch();
        delayMs = firstMs;
      } catch (err) {
        if (signal.aborted) return;
        if (classify(err) === Failure.Gone) {
          this.resourceVersion = undefined;
          continue;
        }
        this.opts.onError(err, delayMs);
        await sleep(delayMs, undefined, { signal }).catch(() => undefined);
        delayMs = Math.min(delayMs * 2, maxMs);
      }
    }
  }

  /** Replaces the cache with a fresh list; reports only what changed since the cache last saw it. */
  private async relist(): Promise<void> {
    const { path, labelSelector, fieldSelector, metadataOnly, keep, onChange } = this.opts;
    const fresh = new Map<string, Map<string, T>>();
    let page: List<T>;
    let next: string | undefined;
    do {
      page = await this.client.request<List<T>>('GET', path, {
        query: { labelSelector, fieldSelector, limit: PAGE_SIZE, continue: next }, signal: this.stopping.signal,
        accept: metadataOnly ? PARTIAL_METADATA_LIST : undefined,
      });
      // An empty PartialObjectMetadataList comes with items: null.
      for (const item of page.items ?? []) put(fresh, keep(item));
      next = page.metadata?.continue || undefined;
    } while (next);
    const old = this.objects;
    this.objects = fresh;
    this.resourceVersion = page.metadata?.resourceVersion ?? '';
    for (const [ns, byName] of old) {
      for (const [name, obj] of byName) if (!fresh.get(ns)?.has(name)) onChange(obj, true);
    }
    for (const [ns, byName] of fresh) {
      for (const [name, obj] of byName) {
        if (old.get(ns)?.get(name)?.metadata?.resourceVersion !== obj.metadata?.resourceVersion) onChange(obj, false);
      }
    }
    if (!this.isSynced) {
      this.isSynced = true;
      this.markSynced();
    }
  }

  private async watch(): Promise<void> {
    const { path, labelSelector, fieldSelector, metadataOnly } = this.opts;
    const timeoutSeconds = Math.floor(MIN_WATCH_SECONDS * (1 + Math.random()));
    const started = Date.now();
    let events = 0;
    await this.client.watch<T>(path, {
      labelSelector, fieldSelector, resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds,
    }, (event) => {
      events++;
      this.apply(event);
    }, { signal: this.stopping.signal, accept: metadataOnly ? PARTIAL_METADATA : undefined });
    // As client-go's reflector: a server (or proxy) that closes every watch at once must not be hammered.
    if (events === 0 && Date.now() - started < 1000) throw new Error('watch closed at once without an event');
  }

  private apply(event: WatchEvent<T>): void {
    const version = event.object.metadata?.resourceVersion;
    if (version) this.resourceVersion = version;
    if (event.type === 'BOOKMARK') return;
    const obj = this.opts.keep(event.object);
    if (event.type === 'DELETED') this.objects.get(obj.metadata?.namespace ?? '')?.delete(obj.metadata?.name ?? '');
    else put(this.objects, obj);
    this.opts.onChange(obj, event.type === 'DELETED');
  }
}

function put<T extends KubernetesObject>(objects: Map<string, Map<string, T>>, obj: T): void {
  const ns = obj.metadata?.namespace ?? '';
  let byName = objects.get(ns);
  if (!byName) objects.set(ns, (byName = new Map()));
  byName.set(obj.metadata?.name ?? '', obj);
}
