import { z } from '@hono/zod-openapi';
import type { FieldConfig } from './config.ts';
import { validationError, type FieldError } from '../errors.ts';
import type { MetadataWrites, RegistrationSubmission } from '../kratos/port.ts';
import { toPointer } from '../shared/json-pointer.ts';

/**
 * The extra fields of a sign-up (`registration.fields`): their zod schemas (validation and
 * /openapi.json), how HTML form values are read, and where each value goes.
 */

/** Compiles one configured extra field into its zod schema (documented in /openapi.json). */
export function compileField(name: string, field: FieldConfig): z.ZodType {
  let schema: z.ZodType;
  switch (field.type) {
    case 'string': {
      let s = z.string().max(field.max_length);
      if (field.min_length !== undefined) s = s.min(field.min_length);
      if (field.pattern !== undefined) s = s.regex(new RegExp(field.pattern, 'u'));
      schema = s;
      break;
    }
    case 'email':
      schema = z.email().max(320);
      break;
    case 'number': {
      let n = field.integer ? z.int() : z.number();
      if (field.min !== undefined) n = n.min(field.min);
      if (field.max !== undefined) n = n.max(field.max);
      schema = n;
      break;
    }
    case 'boolean':
      schema = field.const ? z.literal(true) : z.boolean();
      break;
    case 'enum':
      schema = z.enum(field.values as [string, ...string[]]);
      break;
    case 'date': {
      let d = z.iso.date();
      if (field.min !== undefined) d = d.refine((v) => v >= field.min!, { params: { range: 'min' } });
      if (field.max !== undefined) d = d.refine((v) => v <= field.max!, { params: { range: 'max' } });
      schema = d;
      break;
    }
  }
  const described = schema.openapi({
    ...(field.description ? { description: field.description } : {}),
    example: exampleFor(field),
  });
  return field.required ? described : described.optional();
}

function exampleFor(field: FieldConfig): unknown {
  switch (field.type) {
    case 'string':
      return undefined;
    case 'email':
      return 'billing@example.com';
    case 'number':
      return field.min ?? 1;
    case 'boolean':
      return true;
    case 'enum':
      return field.values[0];
    case 'date':
      return field.min ?? '1990-01-01';
  }
}

/** Builds the strict `fields` object schema from the config. */
export function compileFields(fields: Record<string, FieldConfig>): z.ZodType<Record<string, unknown> | undefined> {
  const shape = Object.fromEntries(Object.entries(fields).map(([name, f]) => [name, compileField(name, f)]));
  const schema = z.strictObject(shape);
  const anyRequired = Object.values(fields).some((f) => f.required);
  return anyRequired ? schema : schema.optional();
}

export interface RegistrationBody {
  traits: Record<string, unknown>;
  password: string;
  fields?: Record<string, unknown> | undefined;
}

/**
 * Splits the validated body into what goes to Kratos: configured fields with target
 * `trait` are copied into traits, `transient_payload` fields into the transient payload.
 * A client that also sends such a trait directly gets an error instead of a silent choice.
 */
export function toSubmission(body: RegistrationBody, fields: Record<string, FieldConfig>): RegistrationSubmission & { metadata: MetadataWrites } {
  const traits = { ...body.traits };
  const transientPayload: Record<string, unknown> = {};
  const metadata: MetadataWrites = { metadataPublic: {}, metadataAdmin: {} };
  const conflicts: FieldError[] = [];
  for (const [name, field] of Object.entries(fields)) {
    const value = body.fields?.[name];
    if (value === undefined) continue;
    const key = field.key ?? name;
    if (field.target === 'trait') {
      if (key in body.traits) {
        conflicts.push({
          pointer: toPointer(['traits', key]),
          code: 'UNKNOWN_FIELD',
          message: `is set from fields.${name}; do not send it in traits`,
        });
      }
      traits[key] = value;
    } else if (field.target === 'transient_payload') {
      transientPayload[key] = value;
    } else if (field.target === 'metadata_public') {
      metadata.metadataPublic[key] = value;
    } else if (field.target === 'metadata_admin') {
      metadata.metadataAdmin[key] = value;
    }
  }
  if (conflicts.length > 0) throw validationError(conflicts);
  return { traits, password: body.password, transientPayload, metadata };
}

/** HTML form values are strings; read configured boolean and number fields as such. */
export function coerceFormFields(form: Record<string, unknown>, fields: Record<string, FieldConfig>): Record<string, unknown> {
  const raw = form.fields;
  if (raw === null || typeof raw !== 'object') return form;
  const out: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  for (const [name, field] of Object.entries(fields)) {
    const v = out[name];
    if (typeof v !== 'string') continue;
    if (field.type === 'boolean') out[name] = v === 'true' || v === 'on' ? true : v === 'false' || v === '' ? false : v;
    if (field.type === 'number' && /^-?\d+(\.\d+)?$/.test(v)) out[name] = Number(v);
  }
  return { ...form, fields: out };
}

