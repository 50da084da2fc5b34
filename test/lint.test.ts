/**
 * The import boundaries eslint.config.js enforces (and `npm test` runs): the engine imports
 * neither the app, the workers, the CLI nor a UI framework; the app never imports the CLI.
 */
import { ESLint } from 'eslint';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const eslint = new ESLint({ cwd: ROOT });

async function boundaryErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('import boundaries', () => {
  it.each([
    ['src/engine/methods/x.ts', "import { useLabStore } from '../../app/store/index.js';\nexport const x = useLabStore;\n"],
    ['src/engine/x.ts', "import { api } from '../../workers/engine.worker.js';\nexport const x = api;\n"],
    ['src/engine/io/x.ts', "import { printable } from '../../cli/printable.js';\nexport const x = printable;\n"],
    ['src/engine/x.ts', "import { useState } from 'react';\nexport const x = useState;\n"],
    ['src/app/components/X.tsx', "import { printable } from '../../cli/printable.js';\nexport const x = printable;\n"],
  ])('%s may not import what it does here', async (file, code) => {
    expect(await boundaryErrors(file, code)).toHaveLength(1);
  });

  it('a store module holds no mutable state of its own (a slice keeps it in its creator)', async () => {
    const [moduleLet] = await eslint.lintText('let runs = 0;\nexport const next = () => ++runs;\n', { filePath: path.join(ROOT, 'src/app/store/x-slice.ts') });
    expect(moduleLet!.messages.map((m) => m.ruleId)).toEqual(['no-restricted-syntax']);
    const [inCreator] = await eslint.lintText('export const create = () => {\n  let runs = 0;\n  return () => ++runs;\n};\n', { filePath: path.join(ROOT, 'src/app/store/x-slice.ts') });
    expect(inCreator!.messages).toEqual([]);
  });

  it('allowed directions pass: the app and the CLI import the engine', async () => {
    expect(await boundaryErrors('src/app/components/X.tsx', "import { METHODS } from '../../engine/methods/registry.js';\nexport const x = METHODS;\n")).toEqual([]);
    expect(await boundaryErrors('src/cli/x.ts', "import { METHODS } from '../engine/methods/registry.js';\nexport const x = METHODS;\n")).toEqual([]);
  });
});
