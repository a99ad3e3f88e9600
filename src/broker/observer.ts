/**
 * Wraps the optional BrokerObserver hooks so that a failing metrics hook is
 * logged and never breaks a produce, fetch or housekeeping pass.
 */
import type { CompactionResult, RetentionResult } from "../log/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { BrokerObserver } from "./options.ts";

export type SafeObserver = Required<BrokerObserver>;

export function safeObserver(observer: BrokerObserver | undefined, logger: Logger): SafeObserver {
  const o = observer ?? {};
  const guard = <A extends unknown[]>(name: keyof BrokerObserver, fn: ((...args: A) => void) | undefined) => {
    return (...args: A): void => {
      if (!fn) return;
      try {
        fn.apply(o, args);
      } catch (err) {
        logger.warn("broker observer hook threw; ignored", { hook: name, err });
      }
    };
  };
  return {
    onProduce: guard("onProduce", o.onProduce),
    onFetch: guard("onFetch", o.onFetch),
    onHighWatermark: guard("onHighWatermark", o.onHighWatermark),
    onRetention: guard<[string, number, RetentionResult]>("onRetention", o.onRetention),
    onCompaction: guard<[string, number, CompactionResult]>("onCompaction", o.onCompaction),
    onTopicCreated: guard("onTopicCreated", o.onTopicCreated),
    onTopicDeleted: guard("onTopicDeleted", o.onTopicDeleted),
  };
}
