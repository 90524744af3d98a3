// The demo's page, served inline: two EventSources (window.demoSources), and every event
// kept in window.demoEvents so a test (or a curious developer) can read what arrived.
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
  window.demoSources = { counter, broadcast };
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
