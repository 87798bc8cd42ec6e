/**
 * Readiness as Kubernetes sees it: not ready while loading, ready once warmed up, not ready
 * again from the first instant of a drain, so endpoints stop routing here before we stop serving.
 */
export type Phase = 'loading' | 'ready' | 'draining' | 'failed';

export class Lifecycle {
  private current: Phase = 'loading';

  get phase(): Phase {
    return this.current;
  }

  get ready(): boolean {
    return this.current === 'ready';
  }

  get draining(): boolean {
    return this.current === 'draining';
  }

  markReady(): void {
    if (this.current === 'loading') this.current = 'ready';
  }

  markDraining(): void {
    this.current = 'draining';
  }

  markFailed(): void {
    this.current = 'failed';
  }
}
