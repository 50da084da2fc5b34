/**
 * Builds the linear algebra's WebAssembly kernels (src/engine/linalg/kernels.ts loads them): the
 * text below, its unrolled loops written out here, assembled by wabt into
 * src/engine/linalg/kernels-wasm.ts (the module's bytes as base64, committed). Run after editing:
 *
 *   npx tsx scripts/build-linalg-kernels.ts          (writes the file)
 *   npx tsx scripts/build-linalg-kernels.ts --check  (exit 1 when the committed bytes differ)
 *
 * Every kernel computes in float64 with SIMD pairs (f64x2), never fused multiply-adds (WebAssembly
 * has none outside relaxed SIMD), so a kernel gives the same bits on every engine and machine.
 * Addresses and lengths are bytes and elements of the module's own memory, which the caller sizes.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

type Elem = 'f32' | 'f64';

const get = (v: string) => `(local.get $${v})`;
const set = (v: string, e: string) => `(local.set $${v} ${e})`;
const add = (a: string, b: string) => `(i32.add ${a} ${b})`;
const mul = (a: string, b: string) => `(i32.mul ${a} ${b})`;
const shl = (a: string, k: number) => `(i32.shl ${a} (i32.const ${k}))`;
const c32 = (k: number) => `(i32.const ${k})`;
const vadd = (a: string, b: string) => `(f64x2.add ${a} ${b})`;
const vmul = (a: string, b: string) => `(f64x2.mul ${a} ${b})`;
const bytes = (e: Elem) => (e === 'f32' ? 2 : 3);

/** A counted loop: `name` from `start` while below `end`, by `step`. */
function loop(name: string, start: string, end: string, step: number | string, body: string[]): string[] {
  return [set(name, start), `(block $${name}_done (loop $${name}_loop`, `(br_if $${name}_done (i32.ge_u ${get(name)} ${end}))`, ...body, set(name, add(get(name), typeof step === 'number' ? c32(step) : step)), `(br $${name}_loop)))`];
}

/** Two entries of A's row at `addr` + `off` bytes as f64x2 (f32 pairs promoted). */
function pair(e: Elem, addr: string, off: number): string {
  return e === 'f64' ? `(v128.load offset=${off * 2} ${addr})` : `(f64x2.promote_low_f32x4 (v128.load64_zero offset=${off} ${addr}))`;
}

/**
 * out[c·stride + i] = Σ_j A[i·n + j]·x[c·n + j] (A m × n, x l × n, out l rows of `stride`):
 * blocks of 4 rows of A × 2 rows of x, 4 entries of j a step, each product summed in two f64x2
 * lanes (j even, j odd) added at the end. Needs m % 4 = 0, n % 4 = 0, l % 2 = 0.
 */
function dots(e: Elem): string {
  const acc = [0, 1, 2, 3].flatMap((r) => [0, 1].map((c) => `s${r}${c}`));
  const rowAddr = (r: number) => (r === 0 ? get('ar') : add(get('ar'), shl(mul(get('n'), c32(r)), bytes(e))));
  const step: string[] = [set('x0l', `(v128.load ${get('xr')})`), set('x0h', `(v128.load offset=16 ${get('xr')})`), set('x1l', `(v128.load ${get('xs')})`), set('x1h', `(v128.load offset=16 ${get('xs')})`)];
  for (let r = 0; r < 4; r++) {
    step.push(set('ra', rowAddr(r)), set('lo', pair(e, get('ra'), 0)), set('hi', pair(e, get('ra'), 8)));
    for (let c = 0; c < 2; c++) step.push(set(`s${r}${c}`, vadd(get(`s${r}${c}`), vadd(vmul(get('lo'), get(`x${c}l`)), vmul(get('hi'), get(`x${c}h`))))));
  }
  step.push(set('ar', add(get('ar'), c32(e === 'f32' ? 16 : 32))), set('xr', add(get('xr'), c32(32))), set('xs', add(get('xs'), c32(32))));
  const store = (r: number, c: number) =>
    `(f64.store ${add(get('out'), shl(add(mul(add(get('c'), c32(c)), get('stride')), add(get('i'), c32(r))), 3))} (f64.add (f64x2.extract_lane 0 ${get(`s${r}${c}`)}) (f64x2.extract_lane 1 ${get(`s${r}${c}`)})))`;
  const cBody = [
    ...acc.map((s) => set(s, '(v128.const i64x2 0 0)')),
    set('ar', add(get('a'), shl(mul(get('i'), get('n')), bytes(e)))),
    set('xr', add(get('x'), shl(mul(get('c'), get('n')), 3))),
    set('xs', add(get('xr'), shl(get('n'), 3))),
    ...loop('j', c32(0), get('n'), 4, step),
    ...[0, 1, 2, 3].flatMap((r) => [0, 1].map((c) => store(r, c))),
  ];
  return [
    `(func (export "dots_${e}") (param $a i32) (param $m i32) (param $n i32) (param $x i32) (param $l i32) (param $out i32) (param $stride i32)`,
    '(local $i i32) (local $c i32) (local $j i32) (local $ar i32) (local $ra i32) (local $xr i32) (local $xs i32)',
    ['lo', 'hi', 'x0l', 'x0h', 'x1l', 'x1h', ...acc].map((v) => `(local $${v} v128)`).join(' '),
    ...loop('i', c32(0), get('m'), 4, loop('c', c32(0), get('l'), 2, cBody)),
    ')',
  ].join('\n');
}

/**
 * out[c·n + j] += Σ_i x[c·stride + i]·A[i·n + j] (x l rows of `stride`, A m × n, out l × n): over
 * column blocks of `chunk` (the touched rows of out stay in cache), 2 rows of A × 4 rows of out a
 * step, 2 entries of j at once. Needs m % 2 = 0, n % 2 = 0, l % 4 = 0, chunk even.
 */
function axpys(e: Elem): string {
  const coef: string[] = [];
  for (let k = 0; k < 4; k++) {
    const at = k === 0 ? get('xc') : add(get('xc'), shl(mul(get('stride'), c32(k)), 3));
    coef.push(set(`xa${k}`, `(f64x2.splat (f64.load ${at}))`), set(`xb${k}`, `(f64x2.splat (f64.load offset=8 ${at}))`));
  }
  const jBody = [set('va', pair(e, get('ar'), 0)), set('vb', pair(e, get('as'), 0))];
  for (let k = 0; k < 4; k++) {
    jBody.push(`(v128.store ${get(`o${k}`)} ${vadd(`(v128.load ${get(`o${k}`)})`, vadd(vmul(get(`xa${k}`), get('va')), vmul(get(`xb${k}`), get('vb'))))})`);
    jBody.push(set(`o${k}`, add(get(`o${k}`), c32(16))));
  }
  jBody.push(set('ar', add(get('ar'), c32(e === 'f32' ? 8 : 16))), set('as', add(get('as'), c32(e === 'f32' ? 8 : 16))));
  const cBody = [
    set('xc', add(get('x'), shl(add(mul(get('c'), get('stride')), get('i')), 3))),
    ...coef,
    set('ar', add(get('a'), shl(add(mul(get('i'), get('n')), get('j0')), bytes(e)))),
    set('as', add(get('ar'), shl(get('n'), bytes(e)))),
    set('o0', add(get('out'), shl(add(mul(get('c'), get('n')), get('j0')), 3))),
    set('o1', add(get('o0'), shl(get('n'), 3))),
    set('o2', add(get('o1'), shl(get('n'), 3))),
    set('o3', add(get('o2'), shl(get('n'), 3))),
    ...loop('j', get('j0'), get('jend'), 2, jBody),
  ];
  const j0Body = [
    set('jend', `(select ${get('n')} ${add(get('j0'), get('chunk'))} (i32.gt_u ${add(get('j0'), get('chunk'))} ${get('n')}))`),
    ...loop('i', c32(0), get('m'), 2, loop('c', c32(0), get('l'), 4, cBody)),
  ];
  return [
    `(func (export "axpys_${e}") (param $x i32) (param $stride i32) (param $l i32) (param $a i32) (param $m i32) (param $n i32) (param $out i32) (param $chunk i32)`,
    '(local $j0 i32) (local $jend i32) (local $i i32) (local $c i32) (local $j i32) (local $ar i32) (local $as i32) (local $xc i32)',
    '(local $o0 i32) (local $o1 i32) (local $o2 i32) (local $o3 i32)',
    ['va', 'vb', ...[0, 1, 2, 3].flatMap((k) => [`xa${k}`, `xb${k}`])].map((v) => `(local $${v} v128)`).join(' '),
    // j0 advances to jend: `loop` adds its step after the body, so the step is jend − j0.
    ...loop('j0', c32(0), get('n'), `(i32.sub ${get('jend')} ${get('j0')})`, j0Body),
    ')',
  ].join('\n');
}

/** Σ p[i]·q[i] over len entries (f64): two f64x2 sums over 4 entries a step, added (lanes, then sums), then the tail in order. */
const DOT = `(func (export "dot") (param $p i32) (param $q i32) (param $len i32) (result f64)
  (local $i i32) (local $end i32) (local $s0 v128) (local $s1 v128) (local $t f64)
  (local.set $end (i32.and (local.get $len) (i32.const -4)))
  (local.set $i (i32.const 0))
  (block $done (loop $l
    (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
    (local.set $s0 (f64x2.add (local.get $s0) (f64x2.mul (v128.load (local.get $p)) (v128.load (local.get $q)))))
    (local.set $s1 (f64x2.add (local.get $s1) (f64x2.mul (v128.load offset=16 (local.get $p)) (v128.load offset=16 (local.get $q)))))
    (local.set $p (i32.add (local.get $p) (i32.const 32)))
    (local.set $q (i32.add (local.get $q) (i32.const 32)))
    (local.set $i (i32.add (local.get $i) (i32.const 4)))
    (br $l)))
  (local.set $s0 (f64x2.add (local.get $s0) (local.get $s1)))
  (local.set $t (f64.add (f64x2.extract_lane 0 (local.get $s0)) (f64x2.extract_lane 1 (local.get $s0))))
  (block $tdone (loop $tl
    (br_if $tdone (i32.ge_u (local.get $i) (local.get $len)))
    (local.set $t (f64.add (local.get $t) (f64.mul (f64.load (local.get $p)) (f64.load (local.get $q)))))
    (local.set $p (i32.add (local.get $p) (i32.const 8)))
    (local.set $q (i32.add (local.get $q) (i32.const 8)))
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (br $tl)))
  (local.get $t))`;

/** dst[i] −= d·src[i] over len entries (f64). */
const AXPY = `(func (export "axpy") (param $d f64) (param $src i32) (param $dst i32) (param $len i32)
  (local $i i32) (local $end i32) (local $v v128)
  (local.set $v (f64x2.splat (local.get $d)))
  (local.set $end (i32.and (local.get $len) (i32.const -2)))
  (block $done (loop $l
    (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
    (v128.store (local.get $dst) (f64x2.sub (v128.load (local.get $dst)) (f64x2.mul (local.get $v) (v128.load (local.get $src)))))
    (local.set $src (i32.add (local.get $src) (i32.const 16)))
    (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
    (local.set $i (i32.add (local.get $i) (i32.const 2)))
    (br $l)))
  (if (i32.lt_u (local.get $i) (local.get $len))
    (then (f64.store (local.get $dst) (f64.sub (f64.load (local.get $dst)) (f64.mul (local.get $d) (f64.load (local.get $src))))))))`;

/** Rows p and q (len entries) ← (c·p − s·q, s·p + c·q): a plane rotation. */
const ROT = `(func (export "rot") (param $p i32) (param $q i32) (param $len i32) (param $c f64) (param $s f64)
  (local $i i32) (local $end i32) (local $vc v128) (local $vs v128) (local $x v128) (local $y v128) (local $a f64) (local $b f64)
  (local.set $vc (f64x2.splat (local.get $c)))
  (local.set $vs (f64x2.splat (local.get $s)))
  (local.set $end (i32.and (local.get $len) (i32.const -2)))
  (block $done (loop $l
    (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
    (local.set $x (v128.load (local.get $p)))
    (local.set $y (v128.load (local.get $q)))
    (v128.store (local.get $p) (f64x2.sub (f64x2.mul (local.get $vc) (local.get $x)) (f64x2.mul (local.get $vs) (local.get $y))))
    (v128.store (local.get $q) (f64x2.add (f64x2.mul (local.get $vs) (local.get $x)) (f64x2.mul (local.get $vc) (local.get $y))))
    (local.set $p (i32.add (local.get $p) (i32.const 16)))
    (local.set $q (i32.add (local.get $q) (i32.const 16)))
    (local.set $i (i32.add (local.get $i) (i32.const 2)))
    (br $l)))
  (if (i32.lt_u (local.get $i) (local.get $len))
    (then
      (local.set $a (f64.load (local.get $p)))
      (local.set $b (f64.load (local.get $q)))
      (f64.store (local.get $p) (f64.sub (f64.mul (local.get $c) (local.get $a)) (f64.mul (local.get $s) (local.get $b))))
      (f64.store (local.get $q) (f64.add (f64.mul (local.get $s) (local.get $a)) (f64.mul (local.get $c) (local.get $b)))))))`;

/** The whole module's text: an imported memory (the caller sizes it per use), the kernels. */
export function kernelsWat(): string {
  return ['(module', '(import "env" "memory" (memory 1))', dots('f32'), dots('f64'), axpys('f32'), axpys('f64'), DOT, AXPY, ROT, ')'].join('\n');
}

export async function kernelsWasm(): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const mod = wabt.parseWat('kernels.wat', kernelsWat(), { simd: true });
  try {
    mod.validate();
    return new Uint8Array(mod.toBinary({}).buffer);
  } finally {
    mod.destroy();
  }
}

const TARGET = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/engine/linalg/kernels-wasm.ts');

function moduleSource(wasm: Uint8Array): string {
  const b64 = Buffer.from(wasm).toString('base64');
  const lines = b64.match(/.{1,100}/g) ?? [];
  return `/** The linear algebra's SIMD kernels (kernels.ts): generated by scripts/build-linalg-kernels.ts, do not edit. */\nexport const KERNELS_WASM_BASE64 =\n${lines.map((l) => `  '${l}'`).join(' +\n')};\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const source = moduleSource(await kernelsWasm());
  if (process.argv.includes('--check')) {
    const committed = await readFile(TARGET, 'utf8').catch(() => '');
    if (committed !== source) {
      process.stderr.write(`${TARGET} is not what scripts/build-linalg-kernels.ts builds; run it.\n`);
      process.exit(1);
    }
  } else {
    await writeFile(TARGET, source);
    process.stderr.write(`wrote ${TARGET}\n`);
  }
}
