// The metrics of prometheusText in a prom-client Registry, for apps that already serve one. Each
// family is a collector of prom-client's own shape (what its Counter and Gauge give the registry:
// get() → { name, help, type, values, aggregator }), so counters stay counters in metrics(),
// getMetricsAsJSON() and the cluster AggregatorRegistry, and nothing of prom-client is loaded.
import { metricFamilies, type MetricFamily, type MetricSources } from "../common/prometheus.js";

/**
 * The part of a prom-client Registry (versions 13 to 15) this uses. registerMetric takes
 * prom-client's own metric classes in its types; ours have their shape at run time.
 */
export interface PromClientRegistry {
  registerMetric(metric: never): void;
  getSingleMetric(name: string): unknown;
  removeSingleMetric(name: string): void;
}

type Aggregator = "sum" | "max" | "min";

/** How the cluster AggregatorRegistry combines workers' values: summed, but for these. */
const AGGREGATORS: Record<string, Aggregator> = {
  wasm_sse_stream_buffered_peak_bytes: "max",
  wasm_sse_broker_reader_lag_seconds: "max",
  wasm_sse_broker_up: "min",
};

/**
 * Adds one metric per family the sources have now (the broker's only with a SharedChannel) to
 * `registry`; each scrape reads every snapshot once (the registry asks all its metrics in one
 * turn). Throws, having added nothing, if a name is taken. Returns a function that removes them.
 */
export function registerPromClient(registry: PromClientRegistry, sources: MetricSources): () => void {
  let scrape: Map<string, MetricFamily> | undefined;
  const read = (name: string): MetricFamily | undefined => {
    if (scrape === undefined) {
      scrape = new Map(metricFamilies(sources).map((f) => [f.name, f]));
      queueMicrotask(() => (scrape = undefined));
    }
    return scrape.get(name);
  };
  const metrics = metricFamilies(sources).map((family) => {
    const key = family.name;
    const metric = {
      // Written by the registry: an OpenMetrics one takes _total off a counter's name.
      name: key,
      help: family.help,
      type: family.type,
      aggregator: AGGREGATORS[key] ?? "sum",
      async get() {
        const values = (read(key)?.samples ?? []).map(([labels, value]) => ({ labels, value }));
        return { name: metric.name, help: metric.help, type: metric.type, values, aggregator: metric.aggregator };
      },
      /** registry.resetMetrics(): the snapshots are the app's, not ours to reset. */
      reset() {},
    };
    return { key, metric };
  });
  // Under the name each was registered with, and only where it is still ours.
  const unregister = (): void => {
    for (const { key, metric } of metrics) if (registry.getSingleMetric(key) === metric) registry.removeSingleMetric(key);
  };
  try {
    for (const { metric } of metrics) registry.registerMetric(metric as never);
  } catch (error) {
    unregister();
    throw error;
  }
  return unregister;
}
