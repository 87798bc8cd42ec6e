import Type from 'typebox';

/**
 * Building blocks that keep a TypeBox schema inside what a CRD's structural schema accepts:
 * every node carries `type`, enums are typed strings (#contract/string-enum.js), and free-form
 * maps use `additionalProperties` (TypeBox's Record would emit `patternProperties`, which CRDs reject).
 */

export interface CelRule {
  rule: string;
  message: string;
  /** Where the apiserver reports the error, relative to the node that holds the rule. */
  fieldPath?: string;
}

export const validations = (...rules: CelRule[]) => ({ 'x-kubernetes-validations': rules });

/** Names of namespaced objects (Secrets, ConfigMaps, PVCs, classes): a DNS-1123 subdomain. */
export const DNS1123_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
/** Keys of a Secret's or ConfigMap's data. */
const DATA_KEY = '^[-._a-zA-Z0-9]+$';

/** The name of an object the model refers to in its own namespace. */
export const ObjectName = (description: string) => Type.String({ minLength: 1, maxLength: 253, pattern: DNS1123_SUBDOMAIN, description });

/** A key of a Secret's or ConfigMap's data. */
export const DataKey = (options: { description: string; default?: string }) => Type.String({ minLength: 1, maxLength: 253, pattern: DATA_KEY, ...options });

// The apimachinery resource.Quantity grammar, so a bad quantity fails at admission of the
// SentimentModel instead of at Deployment creation, where only the operator would see it.
const QUANTITY = '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

/**
 * Upper bounds far above any node, so a typo (`20000Gi` for `2000Mi`) or an absurd value
 * (`1e1000`, `999999999999Ei`) is refused here rather than left to the scheduler or an overflow.
 */
export const QUANTITY_CEILING = { cpu: '4096', memory: '64Ti' } as const;

/**
 * Fractional bytes (`0.5`, `1500m`), which Kubernetes accepts with a warning and rounds. The
 * quantity library's isInteger() also refuses `1.5Gi`, a whole 1610612736 bytes, so the test is on
 * the float: exact below 2^53, and whole above it anyway; the ceiling guard keeps int() in range.
 */
const WHOLE_BYTES: CelRule = {
  rule: `!isQuantity(self) || quantity(self).compareTo(quantity('${QUANTITY_CEILING.memory}')) > 0 || double(int(quantity(self).asApproximateFloat())) == quantity(self).asApproximateFloat()`,
  message: 'memory must be a whole number of bytes, such as 512Mi or 1.5Gi',
};

/**
 * A CPU or memory quantity: the grammar as a pattern, then CEL's quantity library for what a
 * pattern cannot say: sign, size and, for memory, whole bytes.
 */
export function Quantity(resource: 'cpu' | 'memory', description: string) {
  const ceiling = QUANTITY_CEILING[resource];
  return Type.String({
    pattern: QUANTITY,
    maxLength: 64,
    description,
    ...validations(
      { rule: 'isQuantity(self)', message: `${resource} must be a Kubernetes quantity such as ${resource === 'cpu' ? '500m or 2' : '512Mi or 2Gi'}` },
      { rule: "!isQuantity(self) || !quantity(self).isLessThan(quantity('0'))", message: `${resource} must not be negative` },
      ...(resource === 'memory' ? [WHOLE_BYTES] : []),
      { rule: `!isQuantity(self) || quantity(self).compareTo(quantity('${ceiling}')) <= 0`, message: `${resource} must be at most ${ceiling}` },
    ),
  });
}

/** Label values: empty, or at most 63 alphanumerics with '-', '_' or '.' inside. */
export const LABEL_VALUE = '^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$';

/**
 * A qualified name as label keys, taint keys and topology keys are: an optional DNS subdomain
 * prefix and '/', then a name of at most 63 characters. The pattern bounds each part's labels;
 * the rule bounds the prefix as a whole.
 */
export const QUALIFIED_NAME = '^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?([.][a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';
const PREFIX_BOUND = "!self.contains('/') || self.indexOf('/') <= 253";

export function QualifiedName(what: string, options: { description?: string } = {}) {
  return Type.String({
    minLength: 1,
    maxLength: 317,
    pattern: QUALIFIED_NAME,
    ...options,
    ...validations({ rule: PREFIX_BOUND, message: `${what} must have a DNS subdomain prefix of at most 253 characters` }),
  });
}

export const LabelValue = (options: { description?: string } = {}) => Type.String({ maxLength: 63, pattern: LABEL_VALUE, ...options });

/**
 * A map from label keys to label values, as nodeSelector and matchLabels are. A map's keys take no
 * pattern in a structural schema, so a CEL rule checks them; its cost is bounded by maxProperties
 * and the request size the apiserver assumes for a key.
 */
export function LabelMap(what: string, options: { maxProperties: number; description?: string }) {
  return Type.Unsafe<Record<string, string>>({
    type: 'object',
    additionalProperties: { type: 'string', maxLength: 63, pattern: LABEL_VALUE },
    maxProperties: options.maxProperties,
    ...(options.description ? { description: options.description } : {}),
    ...validations({
      rule: `self.all(k, k.size() <= 317 && k.matches('${QUALIFIED_NAME}'))`,
      message: `${what} keys must be label keys: [prefix/]name, the name at most 63 alphanumerics with '-', '_' or '.' inside, the prefix a DNS subdomain`,
    }),
  });
}

/** Regexes behind the image rules, exported so unit tests can table-test them (RE2 and JS agree on these). */
export const IMAGE_PATTERNS = {
  latestTag: '^([^@]*/)?[^/@:]+:latest(@.*)?$',
  tagged: '^([^@]*/)?[^/@:]+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$',
  digest: '^[^@]+@sha256:[a-f0-9]{64}$',
  // The distribution reference grammar: an optional registry host (any case, optional port),
  // then lowercase path components, which is what a runtime accepts as a repository.
  reference:
    '^([A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?([.][A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*(:[0-9]+)?/)?' +
    '[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*' +
    '(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$',
};

/**
 * A container image reference that is reproducible: pinned by a version tag or a sha256 digest.
 * The CEL rules give each way of getting it wrong its own message; maxLength bounds their cost.
 */
export function ImageReference(description: string) {
  return Type.String({
    minLength: 1,
    maxLength: 512,
    pattern: '^[A-Za-z0-9][A-Za-z0-9._:/@-]*$',
    description,
    ...validations(
      {
        rule: `!self.matches('${IMAGE_PATTERNS.latestTag}')`,
        message: "image tag 'latest' is not allowed: pin a version tag or a sha256 digest",
      },
      {
        rule: `self.contains('@') || self.matches('${IMAGE_PATTERNS.tagged}')`,
        message: 'image must be pinned by a tag or a digest (name:1.2.3 or name@sha256:<64 hex>)',
      },
      {
        rule: `!self.contains('@') || self.matches('${IMAGE_PATTERNS.digest}')`,
        message: 'image digest must be @sha256: followed by 64 lowercase hex characters',
      },
      {
        rule: `self.matches('${IMAGE_PATTERNS.reference}')`,
        message: 'image must be a valid reference, [registry[:port]/]repository[:tag][@digest], its repository in lowercase letters, digits and . _ __ - separators',
      },
    ),
  });
}

/** An absolute path inside an image or volume; `..` could escape the mounted model directory. */
export function InnerPath(defaultPath: string, description: string) {
  return Type.String({
    minLength: 1,
    maxLength: 1024,
    pattern: '^/[A-Za-z0-9._/-]*$',
    default: defaultPath,
    description,
    ...validations({ rule: "!self.matches('(^|/)[.][.](/|$)')", message: "path must not contain '..'" }),
  });
}

const DNS_NAME = '([A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?[.])*[A-Za-z]([-A-Za-z0-9]*[A-Za-z0-9])?[.]?';
const IPV4_OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';

/**
 * Where an https URL's host is, by regex on the URL itself: CEL's url() hands back strings of no
 * known size, which puts any rule on them over the cost budget. Exported for unit tests (RE2 and JS
 * agree on these).
 */
export const URL_PATTERNS = {
  /** A bracketed IPv6 literal, which CEL's isIP() and ip() then read. */
  ipv6Host: '^https://([^/?#@\\[\\]]*@)?\\[[^\\]]*\\]',
  /**
   * A DNS name whose last label starts with a letter, as every top-level domain and cluster
   * domain does, or a dotted-quad IPv4 address. Anything else (2852039166, 0xa9fea9fe,
   * 169.254.43518, %31%36%39.254.169.254) is an IPv4 address too in the WHATWG URL syntax the
   * fetcher parses, one these rules would not recognise.
   */
  nameOrIpv4Host: `^https://([^/?#@]*@)?(${DNS_NAME}|(${IPV4_OCTET}[.]){3}${IPV4_OCTET})(:[0-9]{1,5})?([/?#]|$)`,
  linkLocalIpv4: '^https://([^/?#@]*@)?169[.]254[.]',
};

const IPV6_HOST = "self.substring(self.indexOf('[') + 1, self.indexOf(']'))";

/**
 * An https URL the model fetcher may download from: a host in a notation the rules can read, and
 * not the link-local range, where cloud instance metadata services answer (see README, "What the apiserver refuses").
 */
export function httpsUrlRules(field: string): CelRule[] {
  const v6 = `self.matches(r'${URL_PATTERNS.ipv6Host}')`;
  return [
    { rule: "self.startsWith('https://') && isURL(self) && url(self).getHostname() != ''", message: `${field} must be an https:// URL with a host` },
    { rule: "self.matches('^[!-~]+$')", message: `${field} must not contain spaces or non-ASCII characters: percent-encode them` },
    {
      rule: `self.matches(r'${URL_PATTERNS.nameOrIpv4Host}') || (${v6} && isIP(${IPV6_HOST}))`,
      message: `${field} host must be a DNS name, a dotted-quad IPv4 address or a bracketed IPv6 address (no zone, no IPv4-mapped form)`,
    },
    {
      rule: `!self.matches(r'${URL_PATTERNS.linkLocalIpv4}') && (!${v6} || !isIP(${IPV6_HOST}) || !ip(${IPV6_HOST}).isLinkLocalUnicast())`,
      message: `${field} must not point to a link-local or instance metadata address (169.254.0.0/16, fe80::/10, fd00:ec2::254)`,
    },
    {
      rule: `!${v6} || !isIP(${IPV6_HOST}) || !cidr('fd00:ec2::254/128').containsIP(${IPV6_HOST})`,
      message: `${field} must not point to a link-local or instance metadata address (169.254.0.0/16, fe80::/10, fd00:ec2::254)`,
    },
  ];
}
