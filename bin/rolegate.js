#!/usr/bin/env node
// Entry point of the `rolegate` command: runs the compiled CLI (`npm run build` first).
require('../dist/cli/main.js');
