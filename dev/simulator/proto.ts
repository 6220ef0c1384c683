import { badRequest } from './status.ts';

/** Content type of Kubernetes protobuf bodies (kubectl sends authorization reviews this way). */
export const protobufContentType = 'application/vnd.kubernetes.protobuf';

const magic = [0x6b, 0x38, 0x73, 0x00]; // "k8s\0"

type Fields = Map<number, Uint8Array[]>;

/** Reads the length-delimited fields of one protobuf message; varint and fixed fields are skipped. */
function readFields(bytes: Uint8Array): Fields {
  const fields: Fields = new Map();
  let at = 0;
  const varint = () => {
    let value = 0;
    let shift = 0;
    for (;;) {
      if (at >= bytes.length) throw badRequest('truncated protobuf body');
      const byte = bytes[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
      shift += 7;
    }
  };
  while (at < bytes.length) {
    const tag = varint();
    const wireType = tag & 7;
    const field = Math.floor(tag / 8);
    if (wireType === 0) varint();
    else if (wireType === 1) at += 8;
    else if (wireType === 5) at += 4;
    else if (wireType === 2) {
      const length = varint();
      if (at + length > bytes.length) throw badRequest('truncated protobuf body');
      const list = fields.get(field) ?? [];
      list.push(bytes.subarray(at, at + length));
      fields.set(field, list);
      at += length;
    } else throw badRequest(`unsupported protobuf wire type ${wireType}`);
  }
  return fields;
}

const decoder = new TextDecoder();
const str = (fields: Fields, n: number) => {
  const value = fields.get(n)?.[0];
  return value ? decoder.decode(value) : '';
};
const sub = (fields: Fields, n: number) => {
  const value = fields.get(n)?.[0];
  return value ? readFields(value) : undefined;
};

/** Unwraps the `k8s\0` + runtime.Unknown envelope and returns the raw object message. */
function unwrap(body: Uint8Array): Fields {
  if (body.length < 4 || magic.some((b, i) => body[i] !== b)) throw badRequest('protobuf body lacks the k8s envelope');
  const unknown = readFields(body.subarray(4));
  const raw = unknown.get(2)?.[0];
  if (!raw) throw badRequest('protobuf envelope without an object');
  return readFields(raw);
}

/**
 * Decodes a protobuf SelfSubjectAccessReview or SelfSubjectRulesReview into its JSON shape.
 * Only the spec fields the simulator answers from are read.
 */
export function decodeReview(kind: 'SelfSubjectAccessReview' | 'SelfSubjectRulesReview', body: Uint8Array): Record<string, unknown> {
  const spec = sub(unwrap(body), 2) ?? new Map();
  if (kind === 'SelfSubjectRulesReview') return { spec: { namespace: str(spec, 1) } };
  const resource = sub(spec, 1);
  const nonResource = sub(spec, 2);
  return {
    spec: {
      ...(resource && {
        resourceAttributes: {
          namespace: str(resource, 1),
          verb: str(resource, 2),
          group: str(resource, 3),
          version: str(resource, 4),
          resource: str(resource, 5),
          subresource: str(resource, 6),
          name: str(resource, 7),
        },
      }),
      ...(nonResource && { nonResourceAttributes: { path: str(nonResource, 1), verb: str(nonResource, 2) } }),
    },
  };
}
