#!/usr/bin/env node
// `npx gateway-deployer <command>`: the operator CLI of bin/cli.ts, compiled as it loads (ts-node, types not checked).
const path = require('node:path');
require('ts-node').register({ transpileOnly: true, project: path.join(__dirname, '..', 'tsconfig.json') });
require('./cli.ts').main();
