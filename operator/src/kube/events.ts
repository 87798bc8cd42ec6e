import { randomBytes } from 'node:crypto';
import type { CoreV1Event } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { SentimentModel } from '../api/v1alpha1/index.js';
import { classify, Failure, loggable } from './errors.js';
import { FIELD_MANAGER, type KubeWriter } from './writer.js';

/** Remembered events for aggregation; old entries go first, so memory stays bounded with many models. */
const MAX_REMEMBERED = 4096;

/**
 * core/v1 Events on SentimentModels, the way kubectl describe shows them. Callers emit only on
 * transitions; a repeat of the same event (a failure retried with backoff) bumps the count of the
 * existing Event instead of creating another, as client-go's recorder does. Events are best
 * effort: a failure to record one is logged and never fails a reconcile.
 */
export class EventRecorder {
  private readonly seen = new Map<string, { name: string; count: number }>();

  constructor(private readonly writer: KubeWriter, private readonly instance: string, private readonly log: Logger) {}

  normal(model: SentimentModel, reason: string, message: string): Promise<void> {
    return this.record(model, 'Normal', reason, message);
  }

  warning(model: SentimentModel, reason: string, message: string): Promise<void> {
    return this.record(model, 'Warning', reason, message);
  }

  private async record(model: SentimentModel, type: string, reason: string, message: string): Promise<void> {
    const { name, namespace, uid } = model.metadata;
    const key = `${uid}\0${type}\0${reason}\0${message}`;
    const now = new Date();
    const previous = this.seen.get(key);
    try {
      if (previous) {
        try {
          await this.writer.patchEvent(namespace, previous.name, { count: previous.count + 1, lastTimestamp: now });
          this.remember(key, { name: previous.name, count: previous.count + 1 });
          return;
        } catch (err) {
          // Events expire (an hour by default); start a new one.
          if (classify(err) !== Failure.NotFound) throw err;
        }
      }
      const event: CoreV1Event = {
        metadata: { name: `${name}.${Date.now().toString(16)}${randomBytes(4).toString('hex')}`, namespace },
        involvedObject: { apiVersion: model.apiVersion, kind: model.kind, name, namespace, uid, resourceVersion: model.metadata.resourceVersion },
        type, reason, message: message.slice(0, 1024),
        source: { component: FIELD_MANAGER },
        reportingComponent: FIELD_MANAGER,
        reportingInstance: this.instance,
        firstTimestamp: now, lastTimestamp: now, count: 1,
      };
      await this.writer.createEvent(event);
      this.remember(key, { name: event.metadata.name ?? '', count: 1 });
    } catch (err) {
      if (classify(err) === Failure.LeadershipLost) throw err;
      this.log.warn({ err: loggable(err), model: `${namespace}/${name}`, reason }, 'could not record event');
    }
  }

  private remember(key: string, entry: { name: string; count: number }): void {
    this.seen.delete(key);
    this.seen.set(key, entry);
    if (this.seen.size > MAX_REMEMBERED) this.seen.delete(this.seen.keys().next().value as string);
  }
}
