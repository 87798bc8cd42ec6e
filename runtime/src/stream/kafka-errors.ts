/**
 * The causes at the bottom of a Kafka client error, in one line. The client wraps each retried
 * failure in another "failed N times" aggregate, so the top message says that something failed
 * and only the leaves say why (a refused SASL authentication, an unknown topic, a TLS failure).
 */
export function kafkaErrorCauses(error: unknown, limit = 3): string {
  const causes = new Set<string>();
  const visit = (node: unknown, depth: number): void => {
    if (causes.size >= limit || depth > 16 || !(node instanceof Error)) return;
    const children = [...(node instanceof AggregateError ? node.errors : []), ...(node.cause === undefined ? [] : [node.cause])];
    // The client keeps the broker's own explanation beside its generic protocol message.
    const fromBroker = (node as { serverErrorMessage?: unknown }).serverErrorMessage;
    if (children.length === 0) causes.add(typeof fromBroker === 'string' && fromBroker !== '' ? `${node.message} ${fromBroker}` : node.message);
    for (const child of children) visit(child, depth + 1);
  };
  visit(error, 0);
  return causes.size > 0 ? [...causes].join('; ') : String(error);
}
