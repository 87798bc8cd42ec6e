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

export function StringMap(options: { maxProperties: number; valueMaxLength: number; description: string }) {
  return Type.Unsafe<Record<string, string>>({
    type: 'object',
    description: options.description,
    additionalProperties: { type: 'string', maxLength: options.valueMaxLength },
    maxProperties: options.maxProperties,
  });
}

/** An object Kubernetes validates itself later (e.g. affinity), kept verbatim by the apiserver. */
export function OpaqueObject<T>(description: string) {
  return Type.Unsafe<T>({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true, description });
}

// The apimachinery resource.Quantity grammar, so a bad quantity fails at admission of the
// SentimentModel instead of at Deployment creation, where only the operator would see it.
const QUANTITY = '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

export const Quantity = (description: string) => Type.String({ pattern: QUANTITY, maxLength: 64, description });

/** Regexes behind the image rules, exported so unit tests can table-test them (RE2 and JS agree on these). */
export const IMAGE_PATTERNS = {
  latestTag: '^([^@]*/)?[^/@:]+:latest(@.*)?$',
  tagged: '^([^@]*/)?[^/@:]+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$',
  digest: '^[^@]+@sha256:[a-f0-9]{64}$',
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
