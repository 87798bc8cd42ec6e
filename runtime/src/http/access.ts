import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { RuntimeConfig } from '#contract/runtime-config.js';
import { RuntimeError } from '../core/errors.js';
import type { ServedModel } from '../model/served-model.js';
import type { ServingContext } from './context.js';

/**
 * What a route is, for the checks every request passes before its body is read: probes and
 * metrics answer anyone (the kubelet and Prometheus carry no token) and are never shed; inference
 * routes are admitted against the load; everything else only needs the token.
 */
export type RouteKind = 'probe' | 'metrics' | 'inference';

declare module 'fastify' {
  interface FastifyContextConfig {
    kind?: RouteKind;
  }
  interface FastifyRequest {
    /** Set on admitted inference requests. */
    admission?: ReturnType<Admission['enter']>;
    /** When the request reached this process (performance.now() clock): its deadline counts from here. */
    arrivedAt: number;
  }
}

/** The recent past the finishing rate is read over, and how many finished requests make it worth reading. */
const RATE_WINDOW_MS = 5_000;
const MIN_FINISHED_FOR_RATE = 8;

/**
 * Load shedding at the door. A request is refused before its body is parsed or its texts
 * tokenized when (a) as many inference requests are already in progress as the queue holds texts
 * (each holds at least one), or (b) the oldest request in progress, or the oldest queued text,
 * has waited longer than half the deadline, or (c) the requests being worked on would take longer
 * than that to finish at the rate requests have recently finished: a newcomer waits for all of
 * them. (b) counts every wait a request meets (the tokenizer's thread pool, the queue, a busy
 * event loop) and also sees texts that came some other way than HTTP; (c) catches the backlog a
 * burst admits just after the oldest request leaves, which (b) alone lets in (measured: a third
 * of accepted requests then ended 504 under a 3x open-loop overload). (c) waits for a few
 * completions, so a burst after idle is admitted. A request counts towards (b) and (c) only once
 * its body has arrived, so a client that uploads slowly holds one slot of (a) (until
 * server.bodyTimeoutMs) and never shuts the door on everyone else. Refusing costs microseconds,
 * which keeps the event loop free for probes and for the requests already accepted.
 */
export class Admission {
  private admitted = 0;
  /** Arrival times of the requests being worked on (body read), in that order: the first is (about) the oldest. */
  private readonly working = new Map<symbol, number>();
  /** When worked-on requests finished, oldest first; those before `finishedFrom` are past the window. */
  private finishedAt: number[] = [];
  private finishedFrom = 0;

  constructor(
    private readonly maxInProgress: number,
    private readonly maxWaitMs: number,
  ) {}

  /** As many requests in progress as the queue holds texts; a queue that has waited half the deadline takes no more. */
  static forConfig(config: RuntimeConfig): Admission {
    return new Admission(config.batching.maxQueue, config.server.requestTimeoutMs / 2);
  }

  get inProgress(): number {
    return this.admitted;
  }

  /** Requests finished within the window before `now`; amortized O(1), since it runs on every request. */
  private finishedWithin(now: number): number {
    while (this.finishedFrom < this.finishedAt.length && now - this.finishedAt[this.finishedFrom]! > RATE_WINDOW_MS) this.finishedFrom++;
    if (this.finishedFrom > 1024 && this.finishedFrom * 2 > this.finishedAt.length) {
      this.finishedAt = this.finishedAt.slice(this.finishedFrom);
      this.finishedFrom = 0;
    }
    return this.finishedAt.length - this.finishedFrom;
  }

  /** Throws Overloaded, or counts the request in; its body has arrived at working(), and it is done at leave(). */
  enter(model: ServedModel | undefined, now: number): { working(arrivedAt: number): void; leave(): void } {
    if (this.admitted >= this.maxInProgress) {
      throw new RuntimeError('Overloaded', `overloaded: ${this.admitted} requests in progress`, 1);
    }
    const oldestRequest: number | undefined = this.working.values().next().value;
    if (oldestRequest !== undefined && now - oldestRequest > this.maxWaitMs) {
      throw new RuntimeError('Overloaded', `overloaded: the oldest request in progress has waited ${Math.round(now - oldestRequest)} ms`, 1);
    }
    const finished = this.finishedWithin(now);
    if (finished >= MIN_FINISHED_FOR_RATE) {
      const perMs = finished / RATE_WINDOW_MS;
      const expectedWaitMs = this.working.size / perMs;
      if (expectedWaitMs > this.maxWaitMs) {
        throw new RuntimeError('Overloaded', `overloaded: ${this.working.size} requests ahead would take ~${Math.round(expectedWaitMs)} ms`, 1);
      }
    }
    const oldestText = model?.oldestQueuedAt();
    if (oldestText !== undefined && now - oldestText > this.maxWaitMs) {
      throw new RuntimeError('Overloaded', `overloaded: the oldest queued text has waited ${Math.round(now - oldestText)} ms`, 1);
    }
    this.admitted++;
    const key = Symbol('request');
    return {
      working: (arrivedAt) => {
        this.working.set(key, arrivedAt);
      },
      leave: () => {
        this.admitted--;
        if (this.working.delete(key)) this.finishedAt.push(performance.now());
      },
    };
  }
}

/**
 * Node sees a connection when it accepts it and a request when it has parsed its headers; a
 * new connection's first request is dated from the accept, which counts the time its bytes sat
 * unread while the event loop was busy. Time in the kernel's accept backlog is invisible to the
 * process (the reason the door above must stay cheap).
 */
function trackArrival(app: FastifyInstance): void {
  const acceptedAt = new WeakMap<Socket, number>();
  app.server.on('connection', (socket: Socket) => acceptedAt.set(socket, performance.now()));
  app.decorateRequest('arrivedAt', 0);
  app.decorateRequest('admission', undefined);
  app.addHook('onRequest', async (request, reply) => {
    const socket = request.raw.socket;
    const accepted = acceptedAt.get(socket);
    if (accepted !== undefined) acceptedAt.delete(socket);
    request.arrivedAt = accepted ?? performance.now() - reply.elapsedTime;
  });
}

/** Whether a route of this kind needs the bearer token; unknown routes (kind undefined) do too, so they cannot be probed. */
export function needsToken(config: RuntimeConfig, kind: RouteKind | undefined): boolean {
  if (config.auth.tokenFile === undefined) return false;
  return !(kind === 'probe' || (kind === 'metrics' && !config.auth.metrics));
}

/** Bearer tokens (when configured) on every route but the open ones, then admission on inference routes. */
export function registerAccessControl(app: FastifyInstance, context: ServingContext): void {
  trackArrival(app);
  const { tokens, admission, config } = context;
  if (tokens) {
    app.addHook('onRequest', async (request) => {
      if (!needsToken(config, request.routeOptions.config.kind)) return;
      if (!tokens.accepts(request.headers.authorization)) {
        throw new RuntimeError('Unauthorized', request.headers.authorization ? 'bearer token not accepted' : 'authorization required: send "Authorization: Bearer <token>"');
      }
    });
  }
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.kind !== 'inference') return;
    const ticket = admission.enter(context.model, performance.now());
    request.admission = ticket;
    // 'close' fires however the exchange ends: answered, failed or abandoned by the client.
    reply.raw.once('close', ticket.leave);
  });
  app.addHook('preHandler', async (request) => {
    request.admission?.working(request.arrivedAt);
  });
}
