import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // 2 cores: mediasoup workers and Chromium are heavy, keep files from piling up
    maxWorkers: 2,
    pool: 'forks',
    reporters: ['default'],
  },
});
