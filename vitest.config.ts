import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Starts a real Kratos (built from the Go module proxy) once for the whole run.
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'workers',
          // The Worker build inside workerd (Miniflare), against its own real Kratos.
          include: ['test/workers/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          // The compatibility suite against a real Kratos v1.0.0 (its own global setup, same
          // `inject('kratos')`): selected integration files, run unchanged (they assert the
          // v1.0.0 answer where it differs), plus test/compat for what only v1.0.0 shows.
          name: 'compat-v1.0.0',
          include: [
            'test/compat/**/*.test.ts',
            'test/integration/registration.test.ts',
            'test/integration/sessions.test.ts',
            'test/integration/services.test.ts',
            'test/integration/runtime-node.test.ts',
            'test/integration/lost-answer.test.ts',
            'test/integration/hostile-bodies.test.ts',
            'test/integration/return-to-relative.test.ts',
            'test/integration/verification.test.ts',
            'test/integration/verification-expiry.test.ts',
            'test/integration/settings.test.ts',
            'test/integration/second-factor.test.ts',
          ],
          globalSetup: ['test/compat/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
