/**
 * Keeps MergeLabError's code and problem list across comlink: its default 'throw' handler keeps
 * only message, name and stack. Registered on both sides of the worker boundary.
 */
import * as Comlink from 'comlink';
import { MergeLabError, isMergeLabError, type ErrorCode } from '../src/engine/errors.js';

interface WireError {
  readonly mergeLab: true;
  readonly code: ErrorCode;
  readonly message: string;
  readonly problems: readonly { readonly code: ErrorCode; readonly message: string }[];
}

type ThrowHandler = Comlink.TransferHandler<{ value: unknown }, { isError: boolean; value: unknown }>;

let registered = false;

export function registerErrorTransfer(): void {
  if (registered) return;
  registered = true;
  const base = Comlink.transferHandlers.get('throw') as ThrowHandler;
  const handler: ThrowHandler = {
    canHandle: base.canHandle,
    serialize({ value }) {
      if (!isMergeLabError(value)) return base.serialize({ value });
      const wire: WireError = { mergeLab: true, code: value.code, message: value.message, problems: value.problems.map((p) => ({ code: p.code, message: p.message })) };
      return [{ isError: false, value: wire }, []];
    },
    deserialize(serialized) {
      const v = serialized.value as Partial<WireError> | undefined;
      if (v?.mergeLab) {
        throw new MergeLabError(v.code!, v.message!, (v.problems ?? []).map((p) => new MergeLabError(p.code, p.message)));
      }
      return base.deserialize(serialized);
    },
  };
  Comlink.transferHandlers.set('throw', handler as Comlink.TransferHandler<unknown, unknown>);
}
