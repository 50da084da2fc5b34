#!/usr/bin/env node
/** `merge-lab` command line: the same engine as the lab, over files on disk (see run.ts). */
import { run } from './run.js';

process.exitCode = await run(process.argv.slice(2));
