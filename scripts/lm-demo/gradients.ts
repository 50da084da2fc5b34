/**
 * tfjs-core's registered gradients, for training in Node. tfjs-core registers its gradient
 * functions only from its ES-module build (dist/register_all_gradients.js), which plain Node
 * cannot load: the package is not "type": "module" and those files import each other without
 * extensions. Vite (and so vitest) resolves them itself; under tsx a resolve hook adds the
 * extension. Kernels, gradients and the engine live in tfjs' global registry, so registering from
 * that build serves the CommonJS build everything else imports.
 */
import { register } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';

const RESOLVE_EXTENSIONLESS = `
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
export async function resolve(specifier, context, next) {
  if (context.parentURL?.includes('/@tensorflow/tfjs-core/dist/') && specifier.startsWith('.') && !specifier.endsWith('.js')) {
    const url = new URL(specifier + '.js', context.parentURL);
    if (fs.existsSync(fileURLToPath(url))) return { url: url.href, format: 'module', shortCircuit: true };
  }
  return next(specifier, context);
}`;

export async function registerGradients(): Promise<void> {
  if (tf.getGradient('BatchMatMul')) return;
  if (!process.env['VITEST']) register(`data:text/javascript,${encodeURIComponent(RESOLVE_EXTENSIONLESS)}`);
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  if (!tf.getGradient('BatchMatMul')) throw new Error("tfjs-core's gradients did not register; training cannot run");
}
