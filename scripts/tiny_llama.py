"""The tensor names and shapes a LlamaForCausalLM checkpoint saves, for the fixture scripts."""


def llama_shapes(vocab, hidden, intermediate, layers):
    out = {'model.embed_tokens.weight': [vocab, hidden], 'model.norm.weight': [hidden], 'lm_head.weight': [vocab, hidden]}
    for l in range(layers):
        p = f'model.layers.{l}.'
        for n in ['q_proj', 'k_proj', 'v_proj', 'o_proj']:
            out[p + f'self_attn.{n}.weight'] = [hidden, hidden]
        out[p + 'mlp.gate_proj.weight'] = [intermediate, hidden]
        out[p + 'mlp.up_proj.weight'] = [intermediate, hidden]
        out[p + 'mlp.down_proj.weight'] = [hidden, intermediate]
        out[p + 'input_layernorm.weight'] = [hidden]
        out[p + 'post_attention_layernorm.weight'] = [hidden]
    return out
