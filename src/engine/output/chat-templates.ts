/**
 * Chat templates for the names mergekit accepts in `chat_template: <name>`: the conversation
 * formats those names stand for (ChatML, Llama 3, Mistral's [INST], Alpaca, EXAONE), written here
 * as Jinja of our own. For ChatML, Llama 3, Mistral and Alpaca they render the same prompts as
 * mergekit's templates (test/output/chat-templates.test.ts); EXAONE's is the format without the
 * indentation mergekit's template leaves in its output. The text is ours, not mergekit's files.
 */

const chatml = [
  "{%- for m in messages -%}",
  "{{ '<|im_start|>' ~ m['role'] ~ '\\n' ~ m['content'] ~ '<|im_end|>\\n' }}",
  '{%- endfor -%}',
  "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}",
].join('\n');

const llama3 = [
  '{{- bos_token -}}',
  '{%- for m in messages -%}',
  "{{ '<|start_header_id|>' ~ m['role'] ~ '<|end_header_id|>\\n\\n' ~ (m['content'] | trim) ~ '<|eot_id|>\\n' }}",
  '{%- endfor -%}',
  "{%- if add_generation_prompt -%}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif -%}",
].join('\n');

const mistral = [
  "{%- set has_system = messages and messages[0]['role'] == 'system' -%}",
  '{%- set turns = messages[1:] if has_system else messages -%}',
  '{{- bos_token -}}',
  '{%- for m in turns -%}',
  "{%- if (m['role'] == 'user') != (loop.index0 is even) -%}{{ raise_exception('Roles must alternate user/assistant after an optional system message.') }}{%- endif -%}",
  "{%- if m['role'] == 'user' -%}",
  "{%- set text = (messages[0]['content'] ~ '\\n\\n' ~ m['content']) if (loop.first and has_system) else m['content'] -%}",
  "{{ ' [INST] ' ~ text ~ ' [/INST]' }}",
  "{%- elif m['role'] == 'assistant' -%}{{ ' ' ~ m['content'] ~ eos_token }}",
  "{%- else -%}{{ raise_exception('Only user and assistant messages, after an optional system message.') }}",
  '{%- endif -%}',
  '{%- endfor -%}',
].join('\n');

const alpaca = [
  "{%- set systems = messages | selectattr('role', 'equalto', 'system') | list -%}",
  "{{ ((systems | last)['content'] | trim if systems else '') ~ '\\n\\n' }}",
  "{%- set headers = {'user': '### Instruction:', 'assistant': '### Response:', 'user_context': '### Input:'} -%}",
  "{%- for m in messages if m['role'] in headers -%}",
  "{{ headers[m['role']] ~ '\\n' ~ (m['content'] | trim) }}{{ '\\n\\n' if not loop.last else '' }}",
  '{%- endfor -%}',
  "{%- if add_generation_prompt and messages[-1]['role'] != 'assistant' -%}{{ '### Response:\\n' }}{%- endif -%}",
].join('\n');

const exaone = [
  "{%- for m in messages -%}",
  "{%- if loop.first and m['role'] != 'system' -%}{{ '[|system|][|endofturn|]\\n' }}{%- endif -%}",
  "{{ '[|' ~ m['role'] ~ '|]' ~ m['content'] ~ ('\\n' if m['role'] == 'user' else '[|endofturn|]\\n') }}",
  '{%- endfor -%}',
  "{%- if add_generation_prompt -%}{{ '[|assistant|]' }}{%- endif -%}",
].join('\n');

export const BUILTIN_CHAT_TEMPLATES: Readonly<Record<string, string>> = { alpaca, chatml, exaone, llama3, mistral };
