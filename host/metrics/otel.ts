// The metrics of prometheusText as OpenTelemetry observable instruments on a Meter the app
// passes (from @opentelemetry/api's metrics.getMeter, or an SDK MeterProvider): nothing of
// OpenTelemetry is imported here, so nothing is loaded unless the app uses it.
//
// Names: the Prometheus names without _total, underscores kept (wasm_sse_events,
// wasm_sse_written_bytes, wasm_sse_broker_reader_lag_seconds). OpenTelemetry's Prometheus
// exporters (the SDK's and the Collector's) add _total to a monotonic sum and a unit suffix only
// where the name lacks it, so what they serve has the names prometheusText has, and one name
// serves both dashboards. Dotted names (wasm_sse.streams.open) would read more like the semantic
// conventions, but would be a second set of names to keep and to look up. Units are UCUM ("By",
// "s", annotations such as "{stream}"); attributes are the Prometheus labels, values as strings.
import { metricFamilies, type MetricSources } from "../common/prometheus.js";

/** What the instruments are created with. */
interface InstrumentOptions {
  description?: string;
  unit?: string;
}

/** An observable instrument, as far as this needs one: it passes them back to the meter. */
type Instrument = object;

/** The batch observation result a Meter gives the callback. */
export interface OpenTelemetryBatchResult {
  observe(instrument: Instrument, value: number, attributes?: Record<string, string>): void;
}

/** The part of an @opentelemetry/api Meter (API 1.x) this uses. */
export interface OpenTelemetryMeter {
  createObservableCounter(name: string, options?: InstrumentOptions): Instrument;
  createObservableGauge(name: string, options?: InstrumentOptions): Instrument;
  addBatchObservableCallback(callback: (result: OpenTelemetryBatchResult) => void, observables: Instrument[]): void;
  removeBatchObservableCallback(callback: (result: OpenTelemetryBatchResult) => void, observables: Instrument[]): void;
}

/**
 * Creates an ObservableCounter or ObservableGauge on `meter` for each family the sources have
 * now (the broker's only with a SharedChannel), observed by one batch callback that reads every
 * snapshot once per collection. Returns a function that removes the callback: the instruments
 * stay (a Meter cannot delete one) but report nothing more.
 */
export function registerOpenTelemetry(meter: OpenTelemetryMeter, sources: MetricSources): () => void {
  const instruments = new Map<string, Instrument>();
  for (const { name, type, help, unit } of metricFamilies(sources)) {
    const options: InstrumentOptions = unit === "" ? { description: help } : { description: help, unit };
    const otelName = name.replace(/_total$/, "");
    instruments.set(name, type === "counter" ? meter.createObservableCounter(otelName, options) : meter.createObservableGauge(otelName, options));
  }
  const callback = (result: OpenTelemetryBatchResult): void => {
    for (const { name, samples } of metricFamilies(sources)) {
      const instrument = instruments.get(name);
      if (instrument !== undefined) for (const [labels, value] of samples) result.observe(instrument, value, labels);
    }
  };
  const observables = [...instruments.values()];
  meter.addBatchObservableCallback(callback, observables);
  return () => meter.removeBatchObservableCallback(callback, observables);
}
