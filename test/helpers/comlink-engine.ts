/** A fresh engine behind a real comlink channel (as between the app and its worker), closed after the suite. */
import * as Comlink from 'comlink';
import { afterAll } from 'vitest';
import { createEngine } from '../../src/engine/api/engine.js';
import { exposeEngine, wrapEngine } from '../../workers/expose.js';

export function engineOverComlink(): ReturnType<typeof wrapEngine> {
  const channel = new MessageChannel();
  exposeEngine(createEngine(), channel.port1 as unknown as Comlink.Endpoint);
  const remote = wrapEngine(channel.port2 as unknown as Comlink.Endpoint);
  afterAll(() => {
    remote[Comlink.releaseProxy]();
    channel.port1.close();
    channel.port2.close();
  });
  return remote;
}
