"""Makes test/fixtures/mergekit-folder/: the files around the weights that mergekit's real pipeline
writes (config.json, tokenizer files, chat template, mergekit_config.yml) for a bf16 TIES merge of
the tiny Llama models in test/fixtures/mergekit-recipes/models, with the tokenizer copied by
default (mk_run.py --copy-tokenizer, mergekit's default), `tokenizer_source: base`,
`tokenizer_source: <a model>` and `chat_template: auto`. The weights are left out (other fixtures
cover them). Run with the interpreter of ../shared/tools/mergekit-real:

    DIR/venv/bin/python scripts/mergekit-folder-fixtures.py DIR/mk_run.py
"""
import os, shutil, subprocess, sys

MK_RUN = os.path.abspath(sys.argv[1])
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'mergekit-folder')
RECIPE = """merge_method: ties
base_model: ../../mergekit-recipes/models/base
models:
  - model: ../../mergekit-recipes/models/ft1
    parameters: {weight: 1.0, density: 0.5}
  - model: ../../mergekit-recipes/models/ft2
    parameters: {weight: 0.8, density: 0.5}
dtype: bfloat16
"""
CASES = {
    'default': '',
    'tokenizer_source_base': 'tokenizer_source: base\n',
    'tokenizer_source_ft1': 'tokenizer_source: ../../mergekit-recipes/models/ft1\n',
    'chat_template_auto': 'chat_template: auto\n',
}

shutil.rmtree(OUT, ignore_errors=True)
for case, extra in CASES.items():
    d = os.path.join(OUT, case)
    os.makedirs(d)
    with open(os.path.join(d, 'recipe.yml'), 'w') as f:
        f.write(RECIPE + extra)
    subprocess.run([sys.executable, MK_RUN, 'recipe.yml', 'out', '--copy-tokenizer'], cwd=d, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = os.path.join(d, 'out')
    os.makedirs(os.path.join(d, 'expected'))
    for name in sorted(os.listdir(out)):
        if name.endswith('.safetensors') or name == 'README.md':
            continue  # the weights are covered elsewhere; the card is in our own words
        shutil.move(os.path.join(out, name), os.path.join(d, 'expected', name))
    shutil.rmtree(out)
    print(case, sorted(os.listdir(os.path.join(d, 'expected'))))
