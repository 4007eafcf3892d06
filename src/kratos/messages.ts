import type { UiContainer, UiText } from '@ory/client';
import { errorMessage, type ErrorCode, type FieldError } from '../errors.ts';
import { toPointer } from '../shared/json-pointer.ts';

/**
 * Kratos UI message ids → our codes. Ids from Kratos's `text/id.go`; the ones the test suite
 * sees from the real Kratos v1.3.1 are recorded in test/fixtures/kratos.
 */
const messageCodes: Record<number, ErrorCode> = {
  4000002: 'REQUIRED',
  4000003: 'TOO_SHORT',
  4000004: 'PATTERN_MISMATCH',
  4000005: 'PASSWORD_POLICY',
  4000007: 'IDENTIFIER_TAKEN',
  4000017: 'TOO_LONG',
  4000018: 'OUT_OF_RANGE',
  4000019: 'OUT_OF_RANGE',
  4000020: 'OUT_OF_RANGE',
  4000021: 'OUT_OF_RANGE',
  4000026: 'INVALID_TYPE',
  4000028: 'IDENTIFIER_TAKEN',
  4000029: 'INVALID_VALUE',
  4000030: 'INVALID_VALUE',
  4000031: 'PASSWORD_TOO_SIMILAR',
  4000032: 'PASSWORD_TOO_SHORT',
  4000033: 'PASSWORD_TOO_LONG',
  4000034: 'PASSWORD_BREACHED',
  4000040: 'INVALID_EMAIL',
  4000041: 'INVALID_FORMAT',
};

/** Our wording for messages whose Kratos text is not fit for end users as is. */
const messageTexts: Partial<Record<number, string>> = {
  4000007: 'An account with this email exists already.',
  4000028: 'An account with this email exists already.',
};

/** The error Kratos gives for a taken identifier, for answers the gateway works out itself. */
export function identifierTakenError(identifierPointer: string): FieldError {
  return { pointer: identifierPointer, code: 'IDENTIFIER_TAKEN', message: messageTexts[4000007]!, kratos: { id: 4000007 } };
}

/**
 * Kratos messages whose text is built only from the identity schema, lengths, counts and fixed
 * wording (text/message_validation.go, v1.3.1); they are passed on as Kratos wrote them. Every
 * other text can quote what the client sent, so it is replaced by the registry's wording for
 * its code: 4000001 carries the JSON-schema reason (`"<the value>" is not valid "email"`,
 * `additionalProperties "<the key>" not allowed`), 4000005 an error text from the password
 * check, 4000018–4000022 the number sent, 4000028 the identifier; unknown ids may do anything.
 */
const verbatimIds = new Set([...range(4000002, 4000004), ...range(4000006, 4000017), ...range(4000023, 4000027), ...range(4000029, 4000038)]);

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Kratos node name (`traits.email`) → JSON pointer into our request (`/traits/email`). */
export function nodeNameToPointer(name: string): string {
  if (name === '' || name === 'csrf_token' || name === 'method') return '';
  return toPointer(name.split('.'));
}

function toFieldError(msg: UiText, pointer: string, identifierPointer: string): FieldError {
  let code = messageCodes[msg.id];
  if (code === undefined) {
    // Kratos v1.3.1 reports email format errors as generic 4000001 ("is not valid "email"");
    // v26.2+ sends 4000040. Recognise the old form so clients see one code either way. A trait
    // the identity schema does not declare is an unknown field, as in the gateway's own checks.
    code =
      msg.id === 4000001 && /is not valid "email"$/.test(msg.text)
        ? 'INVALID_EMAIL'
        : msg.id === 4000001 && /^additionalProperties /.test(msg.text)
          ? 'UNKNOWN_FIELD'
          : 'KRATOS_MESSAGE';
  }
  // Duplicate identifiers come as a flow-level message; they belong to the identifier trait.
  const at = code === 'IDENTIFIER_TAKEN' ? identifierPointer : pointer;
  const message = messageTexts[msg.id] ?? (verbatimIds.has(msg.id) ? msg.text : errorMessage(code));
  return { pointer: at, code, message, kratos: { id: msg.id } };
}

/** Collects the error messages of a Kratos flow (flow level and per node) as field errors. */
export function flowErrors(ui: UiContainer | undefined, identifierPointer: string): FieldError[] {
  if (!ui) return [];
  const out: FieldError[] = [];
  for (const msg of ui.messages ?? []) {
    if (msg.type === 'error') out.push(toFieldError(msg, '', identifierPointer));
  }
  for (const node of ui.nodes ?? []) {
    const name = 'name' in node.attributes ? String(node.attributes.name) : '';
    for (const msg of node.messages ?? []) {
      if (msg.type === 'error') out.push(toFieldError(msg, nodeNameToPointer(name), identifierPointer));
    }
  }
  return out;
}

// --- verification (issue 13) ---
/** Kratos's verification ids (text/message_verification.go, v1.3.1; kratos-facts-2 §6). */
export const verificationMessageIds = {
  codeSent: 1080003,
  verified: 1080002,
  alreadyDone: 4070002,
  failureState: 4070003,
  flowExpired: 4070005,
  codeInvalid: 4070006,
  /** Generic; in a replacement verification flow: too many code submissions. */
  generic: 4000001,
} as const;

/**
 * A wrong or already used verification code: Kratos answers 200 with 4070006 in the flow's
 * messages. It becomes a field error at `/code` (Kratos's text is fine, but ours is stable).
 * Never carries the code.
 */
export function verificationCodeErrors(ui: UiContainer | undefined): FieldError[] {
  const ids = [...(ui?.messages ?? []), ...(ui?.nodes ?? []).flatMap((n) => n.messages ?? [])].filter((m) => m.type === 'error').map((m) => m.id);
  if (!ids.includes(verificationMessageIds.codeInvalid)) return [];
  return [{ pointer: '/code', code: 'CODE_INVALID', message: errorMessage('CODE_INVALID'), kratos: { id: verificationMessageIds.codeInvalid } }];
}
// --- end verification ---
