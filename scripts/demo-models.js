#!/usr/bin/env node
/**
 * Writes Mai's two demo models (mai-demo-small, mai-demo-large) into ./models when no other model
 * is found there, so a fresh machine can run a turn with nothing else installed. Their weights
 * are RANDOM: they answer with noise. Plain JavaScript, so it runs without a build.
 *
 *   node scripts/demo-models.js [--dir DIR] [--force]
 *
 * Everything it says goes to stderr.
 */
import { resolve } from 'node:path';
import { ensureDemoModels } from './gguf/index.js';

const args = process.argv.slice(2);
let dir = './models';
let force = false;
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === '--force') force = true;
  else if (arg === '--dir' && args[i + 1]) dir = args[++i] ?? dir;
  else if (arg?.startsWith('--dir=')) dir = arg.slice('--dir='.length);
  else if (arg === '--help' || arg === '-h') {
    process.stderr.write('usage: node scripts/demo-models.js [--dir DIR] [--force]\n  Writes two tiny demo GGUF models (random weights: their answers are noise) into DIR (default ./models)\n  unless another model is already there.\n');
    process.exit(0);
  } else {
    process.stderr.write(`demo-models: unknown argument "${arg}". Try --help.\n`);
    process.exit(2);
  }
}

try {
  const target = resolve(dir);
  const result = await ensureDemoModels(target, { force, log: (line) => process.stderr.write(`demo-models: ${line}\n`) });
  if (result.written.length === 0 && !result.skippedBecause) process.stderr.write('demo-models: nothing to do.\n');
} catch (error) {
  process.stderr.write(`demo-models: failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
