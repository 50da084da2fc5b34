/**
 * Writing a Recipe back as mergekit YAML, in mergekit's key order, with gradients in flow style
 * ([0, 0.5, 1]) as mergekit's own dumper writes them. The output parses back to the same Recipe
 * (Recipe.options, the method-choosing names, are written into the top-level parameters).
 */
import { Document, isSeq, visit } from 'yaml';
import type { ParameterMap, Recipe, RecipeSlice } from './types.js';

export function recipeToObject(r: Recipe): Record<string, unknown> {
  const params = (p: ParameterMap | Readonly<Record<string, unknown>> | undefined) => (p && Object.keys(p).length > 0 ? { parameters: p } : {});
  const models = r.models.map((m) => ({ model: m.model, ...params(m.parameters) }));
  const out: Record<string, unknown> = {};
  const slices = (list: readonly RecipeSlice[]) =>
    list.map((sl) => ({
      sources: sl.sources.map((x) => ({ model: x.model, layer_range: [...x.layerRange], ...params(x.parameters) })),
      ...(sl.baseModel !== undefined ? { base_model: sl.baseModel } : {}),
      ...params(sl.parameters),
    }));
  if (r.modules) {
    out.modules = Object.fromEntries(
      Object.entries(r.modules).map(([name, m]) => [name, { ...(m.slices ? { slices: slices(m.slices) } : { models: (m.models ?? []).map((x) => ({ model: x.model, ...params(x.parameters) })) }), ...params(m.parameters) }]),
    );
  } else if (r.slices) {
    out.slices = slices(r.slices);
  } else if (r.layerRange || r.sliceParameters) {
    out.slices = [{ sources: models.map((m) => ({ ...m, ...(r.layerRange ? { layer_range: [...r.layerRange] } : {}) })), ...params(r.sliceParameters) }];
  } else {
    out.models = models;
  }
  out.merge_method = r.mergeMethod;
  if (r.baseModel !== undefined) out.base_model = r.baseModel;
  if (r.dtype !== undefined) out.dtype = r.dtype;
  if (r.outDtype !== undefined) out.out_dtype = r.outDtype;
  // Method-choosing names (Recipe.options) go back into the top-level parameters, first.
  const top = { ...(r.options ?? {}), ...(r.listOptions ?? {}), ...(r.parameters ?? {}) };
  Object.assign(out, params(top));
  if (r.randomSeed !== undefined) out.random_seed = r.randomSeed;
  if (r.tokenizerTokens !== undefined) {
    const tokens: Record<string, unknown> = {};
    for (const t of r.tokenizerTokens) {
      const source = t.tokenId !== undefined ? { kind: 'model_token', model: t.model, token_id: t.tokenId } : t.sourceToken !== undefined ? { kind: 'model_token', model: t.model, token: t.sourceToken } : t.model;
      tokens[t.token] = { source, ...(t.force ? { force: true } : {}) };
    }
    out.tokenizer = { source: r.tokenizerSource ?? 'union', tokens };
  } else if (r.tokenizerSource !== undefined) out.tokenizer_source = r.tokenizerSource;
  if (r.chatTemplate !== undefined) out.chat_template = r.chatTemplate;
  // The default (mergekit's arithmetic) is left out, so the YAML stays mergekit's own.
  if (r.math === 'float32') out.math = r.math;
  return out;
}

export function recipeToYaml(r: Recipe): string {
  const doc = new Document(recipeToObject(r));
  visit(doc, {
    Seq(_, node) {
      if (isSeq(node) && node.items.every((i) => typeof (i as { value?: unknown }).value === 'number')) node.flow = true;
    },
  });
  return doc.toString({ lineWidth: 0 });
}
