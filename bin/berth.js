#!/usr/bin/env node
// The berth executable: runs the compiled CLI (npm run build writes dist/).
import '../dist/src/cli/main.js';
