import type { RolloutChoice, SentimentModelStatus } from '../api/v1alpha1/index.js';

/** For telling a Replace rollout's pod that waits for the scheduler from one that cannot fit (plan.ts). */
export interface Settle {
  /** The model's pods that held a node at the last look: one gone since released its resources too. */
  boundPods: ReadonlySet<string>;
  /** When the model's pods were last seen releasing resources. */
  releasedAt?: number;
}

/** Our last write of a child. */
export interface AppliedChild {
  /** Of the object applied (apply.ts). */
  hash: string;
  /**
   * The resourceVersions the child had before that write: while the cache shows one of them, it
   * has not seen the write yet. Once it shows any other, the live object is judged again.
   */
  versionsBefore: ReadonlySet<string>;
}

/**
 * What the controller knows of one model beyond the informer caches, all of it about its own
 * writes and decisions, which the caches show a watch event late or not at all.
 */
export interface ModelMemory {
  readonly uid: string;
  /**
   * Each child applied, by childKey(): a reconcile between our write and its watch event must not
   * apply the same object again. Like client-go's controller expectations, an entry holds until
   * the cache shows the child deleted.
   */
  readonly applied: Map<string, AppliedChild>;
  /** The status last written; the cached model lags it. */
  status?: SentimentModelStatus;
  /**
   * The rollout decision from the moment it is made: a reconcile that applies the Deployment and
   * then fails before its status write (a conflict on a later child, say) must not take the retry
   * for a lost status write and report the choice as kept from the Deployment.
   */
  rollout?: RolloutChoice;
  settle: Settle;
}

export const childKey = (kind: string | undefined, name: string | undefined): string => `${kind}/${name}`;

/**
 * One record per model for one leadership term, dropped by forget() once the model is gone. A
 * new term starts empty, since what a previous leader knew may be stale, and so does a model
 * made again under the same name (another uid).
 */
export class Memory {
  private readonly models = new Map<string, ModelMemory>();

  of(key: string, uid: string): ModelMemory {
    const known = this.models.get(key);
    if (known?.uid === uid) return known;
    const fresh: ModelMemory = { uid, applied: new Map(), settle: { boundPods: new Set() } };
    this.models.set(key, fresh);
    return fresh;
  }

  /** The cache saw the child deleted: the next reconcile must apply it again. */
  childDeleted(key: string, kind: string, name: string): void {
    this.models.get(key)?.applied.delete(childKey(kind, name));
  }

  forget(key: string): void {
    this.models.delete(key);
  }
}
