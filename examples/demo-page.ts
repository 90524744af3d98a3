// The demo's page, served inline: three EventSources (window.demoSources): the counter and the
// broadcast, every event of theirs kept in window.demoEvents so a test (or a curious developer)
// can read what arrived; and /stats, drawn as a live chart (an inline SVG, no library), its
// events kept apart in window.demoStats.
export const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>wasm-sse demo</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
  .big { font-size: 3rem; font-variant-numeric: tabular-nums; }
  #log { height: 8rem; overflow: auto; background: #f4f4f4; padding: .5rem; }
  code { background: #eee; padding: 0 .2rem; }
  #figures { display: grid; grid-template-columns: repeat(3, 1fr); gap: .25rem 1rem; margin: 0 0 .5rem; }
  #figures div { display: flex; flex-direction: column-reverse; }
  #figures dt { font-size: .8rem; color: #555; }
  #figures dd { margin: 0; font-size: 1.5rem; font-variant-numeric: tabular-nums; }
  .chart { display: block; width: 100%; height: 4rem; background: #f4f4f4; }
  .chart text { font: 11px system-ui, sans-serif; fill: #555; }
  .key { font-size: .8rem; color: #555; margin: .1rem 0 .4rem; }
  #chart-open { stroke: #1f6feb; } #chart-eps { stroke: #d1242f; }
  .chart polyline { fill: none; stroke-width: 2; vector-effect: non-scaling-stroke; stroke-linejoin: round; }
</style>
</head>
<body>
<h1>wasm-sse</h1>
<section>
  <h2>Counter <small id="counter-state">connecting…</small></h2>
  <div class="big" id="counter">–</div>
  <p>Ten events per connection, then a <code>comment</code> event and the end. The browser
  reconnects with <code>Last-Event-ID</code> and the counter resumes. Last id: <code id="last-id">none</code></p>
</section>
<section>
  <h2>Broadcast clock</h2>
  <div id="clock">–</div>
</section>
<section>
  <h2>Chat (the same broadcast)</h2>
  <form id="say"><input id="text" maxlength="200" placeholder="say something" autocomplete="off"> <button>send</button></form>
  <div id="log"></div>
</section>
<section>
  <h2>Live <small id="stats-state">connecting…</small></h2>
  <dl id="figures">
    <div><dt>open streams</dt><dd id="stat-open" data-value="">–</dd></div>
    <div><dt>events/s</dt><dd id="stat-eps" data-value="">–</dd></div>
    <div><dt>bytes/s</dt><dd id="stat-bps" data-value="">–</dd></div>
    <div><dt>cuts (slow or stalled)</dt><dd id="stat-cuts" data-value="">–</dd></div>
    <div><dt>resumes</dt><dd id="stat-resumes" data-value="">–</dd></div>
    <div><dt>resets</dt><dd id="stat-resets" data-value="">–</dd></div>
  </dl>
  <svg class="chart" id="chart-open-svg" viewBox="0 0 600 60" preserveAspectRatio="none" role="img" aria-label="open streams, last 60 samples">
    <polyline id="chart-open" points=""></polyline>
  </svg>
  <div class="key">open streams, the last 60 samples (peak <span id="chart-open-max">0</span>)</div>
  <svg class="chart" id="chart-eps-svg" viewBox="0 0 600 60" preserveAspectRatio="none" role="img" aria-label="events per second, last 60 samples">
    <polyline id="chart-eps" points=""></polyline>
  </svg>
  <div class="key">events/s, the last 60 samples (peak <span id="chart-eps-max">0</span>)</div>
  <p>The counter's and the broadcast's streams, from their listeners' <code>stats()</code>,
  sampled by the server and sent over this page's third stream, <code>/stats</code>, which is
  not counted. Cuts, resumes and resets are totals since the server started.</p>
</section>
<script>
  const demoEvents = (window.demoEvents = []);
  const $ = (id) => document.getElementById(id);
  const keep = (stream, e) => demoEvents.push({ stream, type: e.type, data: e.data, lastEventId: e.lastEventId });

  const counter = new EventSource("/counter");
  counter.onopen = () => ($("counter-state").textContent = "live");
  counter.onerror = () => ($("counter-state").textContent = "reconnecting…");
  counter.onmessage = (e) => {
    keep("counter", e);
    $("counter").textContent = JSON.parse(e.data).counter;
    $("last-id").textContent = e.lastEventId;
  };
  counter.addEventListener("comment", (e) => {
    keep("counter", e);
    $("counter-state").textContent = "ended (" + e.data + ")";
  });

  const broadcast = new EventSource("/broadcast");
  broadcast.addEventListener("clock", (e) => {
    keep("broadcast", e);
    const { time, listeners, workers } = JSON.parse(e.data);
    $("clock").textContent = time + " · " + (workers === undefined ? listeners + " listening" : workers + " workers");
  });
  broadcast.addEventListener("chat", (e) => {
    keep("broadcast", e);
    const line = document.createElement("div");
    line.textContent = JSON.parse(e.data).at.slice(11, 19) + "  " + JSON.parse(e.data).text;
    $("log").append(line);
    $("log").scrollTop = $("log").scrollHeight;
  });

  const POINTS = 60;
  const demoStats = (window.demoStats = []);
  const stats = new EventSource("/stats");
  stats.onopen = () => ($("stats-state").textContent = "live");
  stats.onerror = () => ($("stats-state").textContent = "reconnecting…");
  const rate = (n, unit = "") => (n >= 1e6 ? (n / 1e6).toFixed(1) + " M" + unit : n >= 1e4 ? (n / 1e3).toFixed(1) + " k" + unit : Math.round(n * 10) / 10 + (unit && " " + unit));
  const show = (id, value, text) => {
    $(id).dataset.value = String(value);
    $(id).textContent = text;
  };
  const draw = (id, values) => {
    const max = Math.max(1, ...values);
    const step = 600 / (POINTS - 1);
    const x0 = 600 - (values.length - 1) * step; // the newest point at the right edge
    $(id).setAttribute("points", values.map((v, i) => (x0 + i * step).toFixed(1) + "," + (58 - (v / max) * 54).toFixed(1)).join(" "));
    $(id + "-max").textContent = rate(Math.max(0, ...values));
  };
  stats.addEventListener("stats", (e) => {
    const s = JSON.parse(e.data);
    demoStats.push(s);
    if (demoStats.length > POINTS) demoStats.splice(0, demoStats.length - POINTS);
    show("stat-open", s.open, String(s.open));
    show("stat-eps", s.eventsPerSec, rate(s.eventsPerSec));
    show("stat-bps", s.bytesPerSec, rate(Math.round(s.bytesPerSec), "B"));
    show("stat-cuts", s.cuts, String(s.cuts));
    show("stat-resumes", s.resumes, String(s.resumes));
    show("stat-resets", s.resets, String(s.resets));
    draw("chart-open", demoStats.map((p) => p.open));
    draw("chart-eps", demoStats.map((p) => p.eventsPerSec));
  });
  window.demoSources = { counter, broadcast, stats };
  $("say").onsubmit = async (e) => {
    e.preventDefault();
    const text = $("text").value;
    $("text").value = "";
    if (text.trim()) await fetch("/broadcast", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text }) });
  };
</script>
</body>
</html>
`;
