import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GENERATED_TYPES, generateClientTypes } from '../../scripts/openapi.ts';

// The typed client (test/integration/typed-client.test.ts) is compiled against checked-in types;
// this keeps them equal to what openapi-typescript makes of the document the gateway serves.
describe('test/support/openapi.generated.ts', () => {
  it('is what openapi-typescript generates from /openapi.json today (else: npm run openapi:types)', async () => {
    expect(readFileSync(GENERATED_TYPES, 'utf8'), 'the OpenAPI document changed: run `npm run openapi:types` and commit the result').toBe(await generateClientTypes());
  });

  it('gives every operation its operationId as the method name', () => {
    const text = readFileSync(GENERATED_TYPES, 'utf8');
    for (const id of ['register', 'login', 'getSession', 'logout', 'checkAlive', 'checkReady']) expect(text).toContain(`operations["${id}"]`);
  });
});
