import type { V1EndpointSlice } from '@kubernetes/client-node';
import { canaryName } from '#contract/canary.js';
import { scriptsOfLanguage } from '#contract/language.js';
import type { SentimentModel } from '../../../operator/src/api/v1alpha1/index.js';
import { canaryView, sameCanary, type CanaryView } from '../canary/view.js';

/** The label the EndpointSlice controller puts on every slice of a Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** The runtime's port name on the model's Service (operator/src/controller/resources/pod-defaults.ts). */
const HTTP_PORT_NAME = 'http';

/** One ready runtime pod, as the EndpointSlice lists it. */
export interface PodEndpoint {
  namespace: string;
  model: string;
  /** The Service the endpoint belongs to: the model's own, or its candidate's (`<model>-canary`). */
  service: string;
  /** The pod, from the endpoint's targetRef; absent for endpoints that are not pods. */
  pod?: string;
  ip: string;
  port: number;
}

/** Base URL of a ready endpoint. Injected so tests can stand local processes in for pods. */
export type EndpointAddress = (endpoint: PodEndpoint) => string | undefined;

export const endpointAddress: EndpointAddress = ({ ip, port }) => `http://${ip.includes(':') ? `[${ip}]` : ip}:${port}`;

/** What the router knows of one SentimentModel: where its ready pods are and whether it may wake it. */
export interface RoutedModel {
  namespace: string;
  name: string;
  uid: string;
  /** Base URLs of the ready pods, sorted so equal sets compare equal. */
  ready: string[];
  /** spec.replicas: 0 means asleep (or scaled to zero by hand). */
  replicas: number;
  /**
   * The builtin autoscaler owns the size and may take it to zero (minReplicas 0), so the router
   * may ask for the first replica. Any other model at zero was put there by someone who meant it.
   */
  wakeable: boolean;
  /** spec.routing.languages, with the scripts each language is written in: in order, first match wins. */
  languages: LanguageRoute[];
  /** The candidate revision while a canary step is analysed, with its ready pods (Service `<name>-canary`). */
  canary?: RoutedCanary;
}

export interface RoutedCanary extends CanaryView {
  /** Base URLs of the candidate's ready pods, sorted. */
  ready: string[];
}

/** Texts mostly in one of `scripts` go to `model`, in the same namespace. */
export interface LanguageRoute {
  language: string;
  scripts: string[];
  model: string;
}

export function routedModel(model: SentimentModel, slices: readonly V1EndpointSlice[], address: EndpointAddress): RoutedModel {
  const { namespace, name, uid } = model.metadata;
  const { enabled, engine, minReplicas } = model.spec.autoscaling;
  const canary = canaryView(model);
  return {
    namespace, name, uid,
    ready: readyOf(slices, namespace, name, name, address),
    replicas: model.spec.replicas,
    wakeable: enabled && engine === 'builtin' && minReplicas === 0 && !model.metadata.deletionTimestamp,
    languages: (model.spec.routing?.languages ?? []).map(({ language, model: target }) => ({ language, scripts: scriptsOfLanguage(language), model: target })),
    ...(canary ? { canary: { ...canary, ready: readyOf(slices, namespace, name, canaryName(name), address) } } : {}),
  };
}

/** Base URLs of the ready endpoints of one Service of the model, sorted so equal sets compare equal. */
function readyOf(slices: readonly V1EndpointSlice[], namespace: string, model: string, service: string, address: EndpointAddress): string[] {
  const ready = new Set<string>();
  for (const slice of slices) {
    if (slice.metadata?.labels?.[SERVICE_NAME_LABEL] !== service) continue;
    const port = slice.ports?.find((p) => p.name === HTTP_PORT_NAME)?.port ?? slice.ports?.[0]?.port;
    if (port === undefined || port === null) continue;
    for (const endpoint of slice.endpoints ?? []) {
      // ready is false for a terminating pod even while it still serves its drain: new work goes elsewhere.
      const ip = endpoint.addresses[0];
      if (endpoint.conditions?.ready !== true || !ip) continue;
      const pod = endpoint.targetRef?.kind === 'Pod' ? endpoint.targetRef.name : undefined;
      const url = address({ namespace, model, service, ...(pod ? { pod } : {}), ip, port });
      if (url) ready.add(url);
    }
  }
  return [...ready].sort();
}

export function sameRoute(a: RoutedModel | undefined, b: RoutedModel | undefined): boolean {
  if (!a || !b) return a === b;
  return a.uid === b.uid && a.replicas === b.replicas && a.wakeable === b.wakeable && a.ready.length === b.ready.length && a.ready.every((u, i) => u === b.ready[i])
    && a.languages.length === b.languages.length && a.languages.every((l, i) => l.language === b.languages[i]!.language && l.model === b.languages[i]!.model)
    && sameCanary(a.canary, b.canary) && sameUrls(a.canary?.ready ?? [], b.canary?.ready ?? []);
}

function sameUrls(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((u, i) => u === b[i]);
}

/**
 * The models by the names clients use: `name` where one namespace holds it, and always
 * `name.namespace` (as in its Service's DNS name), which stays unambiguous when two namespaces
 * hold the same name. Model and namespace names are DNS labels, so neither has a dot.
 */
export class Catalog {
  /** By name, then namespace: a bare name resolves with one lookup on every request. */
  private readonly byName = new Map<string, Map<string, RoutedModel>>();

  set(model: RoutedModel): void {
    let namespaces = this.byName.get(model.name);
    if (!namespaces) this.byName.set(model.name, (namespaces = new Map()));
    namespaces.set(model.namespace, model);
  }

  delete(namespace: string, name: string): void {
    const namespaces = this.byName.get(name);
    namespaces?.delete(namespace);
    if (namespaces?.size === 0) this.byName.delete(name);
  }

  get(namespace: string, name: string): RoutedModel | undefined {
    return this.byName.get(name)?.get(namespace);
  }

  /** The model a client named, or why none: unknown, or a bare name that several namespaces hold. */
  resolve(requested: string): RoutedModel | { missing: string } {
    const dot = requested.indexOf('.');
    if (dot > 0) return this.get(requested.slice(dot + 1), requested.slice(0, dot)) ?? { missing: `unknown model "${requested}"` };
    const namespaces = this.byName.get(requested);
    if (!namespaces) return { missing: `unknown model "${requested}"` };
    if (namespaces.size === 1) return namespaces.values().next().value!;
    const names = [...namespaces.keys()].map((ns) => `${requested}.${ns}`).sort();
    return { missing: `model "${requested}" exists in several namespaces; name one: ${names.join(', ')}` };
  }

  list(): RoutedModel[] {
    return [...this.byName.values()].flatMap((namespaces) => [...namespaces.values()])
      .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  }

  /** The name /v1/models shows for a model: bare unless another namespace holds the same name. */
  displayName(model: RoutedModel): string {
    return (this.byName.get(model.name)?.size ?? 0) > 1 ? `${model.name}.${model.namespace}` : model.name;
  }
}
