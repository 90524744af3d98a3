// The one event stream every peer serves: event i carries a sensor reading, and every
// tenth event is named `sensor` (the rest are unnamed, so EventSource types them "message").

export interface Reading {
  counter: number;
  name: string;
  value: number;
}

export function reading(i: number): Reading {
  return { counter: i, name: "sensor-7", value: 20 + (i % 50) / 2 };
}

/** The event name of event i, or undefined for an unnamed event. */
export function eventName(i: number): string | undefined {
  return i % 10 === 9 ? "sensor" : undefined;
}

/** Event i as the plain string framing writes it: the reference the engine must equal byte for byte. */
export function frameText(i: number): string {
  const name = eventName(i);
  const data = "data: " + JSON.stringify(reading(i)) + "\n\n";
  return name === undefined ? data : "event: " + name + "\n" + data;
}
