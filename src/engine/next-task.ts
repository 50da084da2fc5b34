/**
 * A macrotask's pause. Work in a worker that awaits only promises (tfjs' data() on wasm and cpu
 * resolves at once) never lets the worker's message queue in: a newer request, which should stop it
 * (latest wins), is not even received until the work is done. Long work awaits this between
 * stages, then checks whether it was superseded.
 */
export function nextTask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
