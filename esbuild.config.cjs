'use strict';
// serverless-esbuild loads `custom.esbuild.config` with require(), and Node cannot require TypeScript:
// this shim loads esbuild.config.ts through tsx's CommonJS API (a devDependency, like the plugin itself).
const { require: requireTypeScript } = require('tsx/cjs/api');

module.exports = requireTypeScript('./esbuild.config.ts', __filename).default;
