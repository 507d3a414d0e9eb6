// fast-check arbitraries of malformed tool arguments, derived from the JSON
// Schemas a server lists for its tools: for one field at a time (top level,
// or one level into a plain object), a value of a type the schema does not
// allow, a missing required field, a value outside an enum, a length, range
// or pattern, or an array item of the wrong type. The field's name is what a
// clean error must mention.
import fc from 'fast-check';

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  anyOf?: JsonSchema[];
  items?: JsonSchema | JsonSchema[];
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  default?: unknown;
  additionalProperties?: boolean | JsonSchema;
}

export interface Malformed {
  tool: string;
  /** Path of the malformed field, e.g. ["resources", "cpu"]. */
  path: string[];
  kind: string;
  args: Record<string, unknown>;
}

type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'null' | 'array' | 'object';

function allowedTypes(s: JsonSchema): Set<JsonType> | null {
  if (s.type) return new Set((Array.isArray(s.type) ? s.type : [s.type]) as JsonType[]);
  if (s.anyOf) {
    const all = new Set<JsonType>();
    for (const branch of s.anyOf) {
      const t = allowedTypes(branch);
      if (!t) return null;
      for (const x of t) all.add(x);
    }
    return all;
  }
  return null;
}

/** Values of each JSON type, as arbitraries. */
const valuesOf: Record<JsonType, fc.Arbitrary<unknown>> = {
  string: fc.string({ maxLength: 20 }),
  number: fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Number.isInteger(n)),
  integer: fc.integer(),
  boolean: fc.boolean(),
  null: fc.constant(null),
  array: fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 5 })), { maxLength: 3 }),
  object: fc.dictionary(fc.string({ minLength: 1, maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
};

function wrongTypeValue(allowed: Set<JsonType>): fc.Arbitrary<unknown> | null {
  const wrong = (Object.keys(valuesOf) as JsonType[]).filter((t) => {
    if (allowed.has(t)) return false;
    if (t === 'integer' && allowed.has('number')) return false;
    return true;
  });
  return wrong.length === 0 ? null : fc.oneof(...wrong.map((t) => valuesOf[t]));
}

/** A plausible valid value (for required fields around the malformed one). */
export function sample(s: JsonSchema): unknown {
  if (s.default !== undefined) return s.default;
  if (s.enum) return s.enum[0];
  if (s.anyOf?.[0]) return sample(s.anyOf[0]);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'string': {
      const re = s.pattern ? new RegExp(s.pattern, 'u') : null;
      const min = s.minLength ?? 0;
      const found = ['x', 'a'.repeat(64), 'plan-1', 'x.py', '0'].find(
        (c) => (!re || re.test(c)) && c.length >= min && c.length <= (s.maxLength ?? Infinity),
      );
      return found ?? 'x'.repeat(Math.max(1, min));
    }
    case 'integer':
    case 'number':
      return s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : 1);
    case 'boolean':
      return false;
    case 'array': {
      const items = Array.isArray(s.items) ? s.items : s.items ? [s.items] : [];
      const n = s.minItems ?? 0;
      return Array.from({ length: n }, (_, i) => sample(items[i] ?? items[0] ?? { type: 'string' }));
    }
    case 'object':
      return Object.fromEntries((s.required ?? []).map((k) => [k, sample(s.properties?.[k] ?? {})]));
    default:
      return 'x';
  }
}

/** Arbitraries of malformed values for one field, by kind; empty when the schema constrains nothing. */
function malformations(s: JsonSchema, required: boolean): [string, fc.Arbitrary<unknown>][] {
  const out: [string, fc.Arbitrary<unknown>][] = [];
  const MISSING = Symbol.for('missing');
  if (required && s.default === undefined) out.push(['missing', fc.constant(MISSING)]);
  const allowed = allowedTypes(s);
  if (allowed) {
    const wrong = wrongTypeValue(allowed);
    if (wrong) out.push(['wrong type', wrong]);
  }
  if (s.enum) {
    const members = new Set(s.enum);
    out.push(['not in enum', fc.string({ minLength: 1, maxLength: 12 }).filter((v) => !members.has(v))]);
  }
  if (s.type === 'string') {
    if ((s.minLength ?? 0) >= 1) out.push(['too short', fc.constant('')]);
    if (s.maxLength !== undefined && s.maxLength <= 200_000) {
      const max = s.maxLength;
      out.push(['too long', fc.integer({ min: 1, max: 50 }).map((n) => 'x'.repeat(max + n))]);
    }
    if (s.pattern) {
      const re = new RegExp(s.pattern, 'u');
      const hostile = fc.constantFrom('a\u0000b', '../x', 'a/b', '', ' \n', '-x', 'x'.repeat(300));
      out.push(['pattern', fc.oneof(hostile, fc.string({ maxLength: 30 })).filter((v) => !re.test(v))]);
    }
  }
  if (s.type === 'integer' || s.type === 'number') {
    if (s.type === 'integer') out.push(['not an integer', fc.constantFrom(0.5, 1.25, -3.75)]);
    if (s.minimum !== undefined && s.minimum > Number.MIN_SAFE_INTEGER) {
      const min = s.minimum;
      out.push(['below minimum', fc.integer({ min: 1, max: 1000 }).map((d) => min - d)]);
    }
    if (s.exclusiveMinimum !== undefined) out.push(['at exclusive minimum', fc.constant(s.exclusiveMinimum)]);
    if (s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER) {
      const max = s.maximum;
      out.push(['above maximum', fc.integer({ min: 1, max: 1000 }).map((d) => max + d)]);
    }
  }
  if (s.type === 'array') {
    if ((s.minItems ?? 0) >= 1) out.push(['too few items', fc.constant([])]);
    const item = Array.isArray(s.items) ? undefined : s.items;
    const itemTypes = item ? allowedTypes(item) : null;
    const wrongItem = itemTypes ? wrongTypeValue(itemTypes) : null;
    if (wrongItem) out.push(['wrong item type', wrongItem.map((v) => [v])]);
  }
  return out;
}

/** Every (tool, field, kind) with its arbitrary of complete malformed arguments. */
export function malformedInputs(
  tools: { name: string; inputSchema: JsonSchema }[],
): fc.Arbitrary<Malformed>[] {
  const MISSING = Symbol.for('missing');
  const out: fc.Arbitrary<Malformed>[] = [];
  for (const tool of tools) {
    const root = tool.inputSchema;
    const base = sample({ ...root, type: 'object' }) as Record<string, unknown>;
    const fields: { path: string[]; schema: JsonSchema; required: boolean }[] = [];
    for (const [key, schema] of Object.entries(root.properties ?? {})) {
      fields.push({ path: [key], schema, required: root.required?.includes(key) ?? false });
      if (schema.type === 'object' && schema.properties) {
        for (const [inner, innerSchema] of Object.entries(schema.properties)) {
          fields.push({
            path: [key, inner],
            schema: innerSchema,
            required: schema.required?.includes(inner) ?? false,
          });
        }
      }
    }
    for (const field of fields) {
      for (const [kind, arb] of malformations(field.schema, field.required)) {
        out.push(
          arb.map((value) => {
            const args = structuredClone(base);
            let target = args;
            for (const k of field.path.slice(0, -1)) {
              if (typeof target[k] !== 'object' || target[k] === null)
                target[k] = sample(root.properties?.[k] ?? {});
              target = target[k] as Record<string, unknown>;
            }
            const last = field.path.at(-1)!;
            if (value === MISSING) delete target[last];
            else target[last] = value;
            return { tool: tool.name, path: field.path, kind, args };
          }),
        );
      }
    }
  }
  return out;
}
