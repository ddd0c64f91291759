// ts-jest only transpiles here: `npm run typecheck` type-checks sources and tests in one pass.
const transform = {
  '^.+\\.[tj]s$': [
    'ts-jest',
    {
      tsconfig: {
        isolatedModules: true,
        module: 'commonjs',
        moduleResolution: 'node10',
        allowJs: true,
        verbatimModuleSyntax: false,
      },
      diagnostics: false,
    },
  ],
};
// @middy/core ships ESM only; it is transpiled to CommonJS for the tests.
const transformIgnorePatterns = ['/node_modules/(?!(@middy)/)'];

/** @type {import('jest').Config} */
const config = {
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/support/setup-jest.ts'],
      transform,
      transformIgnorePatterns,
    },
    {
      displayName: 'emulator',
      testEnvironment: 'node',
      testMatch: ['<rootDir>/test/emulator/**/*.test.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/support/setup-jest.ts'],
      transform,
      transformIgnorePatterns,
      slowTestThreshold: 30,
    },
  ],
};

module.exports = config;
