/**
 * What the page's main thread loads (issue 16): the static value imports reachable from
 * src/app/main.tsx. Tensor code (tfjs), the YAML library and the engine's implementations run in
 * the worker; the page holds descriptors (method catalog, schemas, error codes, manifest and recipe
 * types). A dynamic import() is a chunk of its own, loaded when asked (the charts, the zip writer,
 * the demo's header reader), so the walk stops there. `import type` is erased by the compiler.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Engine modules the page may hold: what methods and recipes are, not how they are computed. */
const ENGINE_DESCRIPTORS = new Set([
  'errors.ts',
  'recent.ts',
  'methods/catalog.ts',
  'methods/params.ts',
  'methods/twin/params.ts',
  'methods/twin/files.ts',
  'methods/channel/files.ts',
  'methods/channel/clustering-names.ts',
  'routed/info.ts',
  'router/types.ts',
  'recipe/types.ts',
  'recipe/recipe-key.ts',
  'recipe/rename.ts',
  'recipe/tokenizer-keys.ts',
  'merge/seed.ts',
  'demo/manifest.ts',
  'demo/transforms.ts',
  'demo/dataset.ts',
  'demo/demo-dtype.ts',
]);

/** Packages the page may load at start. */
const FORBIDDEN_PACKAGES = [/^@tensorflow\//, /^yaml$/, /^fflate$/];

function valueImports(file: string): { relative: string[]; packages: string[] } {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true, file.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const relative: string[] = [];
  const packages: string[] = [];
  for (const st of source.statements) {
    let spec: string | undefined;
    if (ts.isImportDeclaration(st)) {
      const c = st.importClause;
      const typeOnly = c !== undefined && (c.isTypeOnly || (!c.name && c.namedBindings !== undefined && ts.isNamedImports(c.namedBindings) && c.namedBindings.elements.length > 0 && c.namedBindings.elements.every((e) => e.isTypeOnly)));
      if (!typeOnly) spec = (st.moduleSpecifier as ts.StringLiteral).text;
    } else if (ts.isExportDeclaration(st) && st.moduleSpecifier && !st.isTypeOnly) {
      spec = (st.moduleSpecifier as ts.StringLiteral).text;
    }
    // ?url, ?raw: an asset's address, not code; a stylesheet is not code either.
    if (spec === undefined || spec.includes('?') || spec.endsWith('.css')) continue;
    if (spec.startsWith('.')) relative.push(spec);
    else packages.push(spec);
  }
  return { relative, packages };
}

function resolve(from: string, spec: string): string {
  const base = path.resolve(path.dirname(from), spec);
  for (const candidate of [base.replace(/\.js$/, '.ts'), base.replace(/\.js$/, '.tsx'), base, `${base}.ts`, `${base}/index.ts`]) {
    if (existsSync(candidate) && candidate.match(/\.(ts|tsx)$/)) return candidate;
  }
  throw new Error(`${path.relative(ROOT, from)} imports ${spec}, which resolves to no file`);
}

/** Every module the page loads at start, and the packages they import. */
function mainThread(): { modules: Map<string, string>; packages: Map<string, string> } {
  const start = path.join(ROOT, 'src/app/main.tsx');
  const modules = new Map<string, string>([[start, '(entry)']]);
  const packages = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const file = queue.pop()!;
    const { relative, packages: pkgs } = valueImports(file);
    for (const p of pkgs) if (!packages.has(p)) packages.set(p, path.relative(ROOT, file));
    for (const spec of relative) {
      const target = resolve(file, spec);
      if (modules.has(target)) continue;
      modules.set(target, path.relative(ROOT, file));
      queue.push(target);
    }
  }
  return { modules, packages };
}

describe("the page's main thread", () => {
  const { modules, packages } = mainThread();

  it('loads no tfjs, no YAML library and no zip writer at start', () => {
    const bad = [...packages].filter(([p]) => FORBIDDEN_PACKAGES.some((re) => re.test(p))).map(([p, by]) => `${p} (imported by ${by})`);
    expect(bad).toEqual([]);
    // The walk reaches the app's real dependencies: it is not vacuous.
    expect([...packages.keys()]).toEqual(expect.arrayContaining(['react', 'zustand', 'comlink']));
  });

  it('holds engine descriptors only, never an implementation', () => {
    const engineDir = path.join(ROOT, 'src/engine') + path.sep;
    const engine = [...modules].filter(([m]) => m.startsWith(engineDir));
    const bad = engine.filter(([m]) => !ENGINE_DESCRIPTORS.has(path.relative(engineDir, m).split(path.sep).join('/'))).map(([m, by]) => `${path.relative(ROOT, m)} (imported by ${by})`);
    expect(bad).toEqual([]);
    expect(engine.map(([m]) => path.relative(ROOT, m))).toContain('src/engine/methods/catalog.ts');
  });

  it('the walk sees through re-exports and type-only imports as the bundler does', () => {
    // registry.ts (the implementations) is what catalog.ts replaced on the main thread.
    expect(valueImports(path.join(ROOT, 'src/engine/methods/registry.ts')).relative).toContain('./ties.js');
    expect(valueImports(path.join(ROOT, 'src/engine/api/engine-api.ts')).relative).toEqual([]);
  });
});
