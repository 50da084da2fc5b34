"""torch.svd_lowrank on the matrices bench/svd-bench.ts wrote, for its table (not a fixture script).

    PYTHON bench/svd_lowrank_torch.py MANIFEST.json [--threads N]

MANIFEST lists {file, m, n, rank} (raw little-endian float32, row-major). For each matrix: the
median wall and CPU time (all threads) of 3 torch.svd_lowrank(A, q=rank + 10, niter=2) calls
(after one untimed call), the
rank-r error of its factors and the optimal rank-r error (torch.linalg.svdvals in float64), both
as ||A - A_r||_F computed in float64. Prints one JSON line per matrix. Any torch >= 1.9 runs it:
bench/svd-bench.ts --torch names the python (e.g. /work/lmref/venv/bin/python, torch 2.14.1).
"""
import json
import sys
import time

import numpy as np
import torch

args = sys.argv[1:]
manifest = json.load(open(args[0]))
if '--threads' in args:
    torch.set_num_threads(int(args[args.index('--threads') + 1]))
torch.manual_seed(0)
for item in manifest:
    m, n, r = item['m'], item['n'], item['rank']
    a = torch.from_numpy(np.fromfile(item['file'], dtype='<f4').reshape(m, n))
    q = min(r + 10, m, n)
    torch.svd_lowrank(a, q=q, niter=2)
    times = []
    cpu = []
    for _ in range(3):
        c = time.process_time()
        t = time.perf_counter()
        u, s, v = torch.svd_lowrank(a, q=q, niter=2)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    a64 = a.double()
    approx = (u[:, :r].double() * s[:r].double()) @ v[:, :r].double().T
    err = torch.linalg.norm(a64 - approx).item()
    sv = torch.linalg.svdvals(a64)
    optimal = torch.sqrt(torch.sum(sv[r:] ** 2)).item()
    print(json.dumps({'file': item['file'], 'seconds': sorted(times)[1], 'cpuSeconds': sorted(cpu)[1], 'error': err, 'optimal': optimal,
                      'threads': torch.get_num_threads(), 'torch': torch.__version__}), flush=True)
