// The `cors` option with a real cross-origin EventSource in headless Chromium (Debian's, driven
// by playwright-core): a page from one origin (127.0.0.1 on one port) opens streams on another
// (127.0.0.1 on other ports: withSse's and sseResponse's), with and without withCredentials.
// Events arrive where the option allows the page; elsewhere EventSource fires error, gets no
// event and gives up. The handler sends the Cookie it was given, so credentials show.
import { createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";
import type { IncomingMessage, ServerResponse } from "node:http";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sseResponse, withSse, type CorsOption, type Sse } from "../host/index.js";
import { listen, serve, type Running } from "./helpers/listen.js";

let browser: Browser;
let page: Page;
let site: Running;
const servers: Running[] = [];
const streams: Record<"withSse" | "sseResponse", string> = { withSse: "", sseResponse: "" };

interface Outcome {
  events: string[];
  error: boolean;
  /** EventSource's readyState at the error: 2 (CLOSED) when it gave up. */
  readyState?: number;
}

/** Two events (the first is the Cookie header the stream got), then open until the page closes it. */
async function twoEvents(sse: Sse, cookie: string | undefined): Promise<void> {
  await sse.send(cookie ?? "no cookie");
  await sse.send("second");
  await sse.closed;
}

/** The `cors` option each path of the stream servers uses; the page's origin is filled in once known. */
function policies(page: string): Record<string, CorsOption | undefined> {
  return {
    list: [page],
    credentials: { origin: [page], credentials: true },
    any: true,
    none: undefined,
    other: ["http://other.example"],
  };
}

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  site = await serve((_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end("<!doctype html><title>a page of another origin</title>");
  });
  const cors = policies(site.url);
  const listeners = Object.fromEntries(Object.entries(cors).map(([name, option]) => [
    `/${name}`,
    withSse((req: IncomingMessage, sse) => twoEvents(sse, req.headers.cookie), { cors: option, keepAliveMs: 0 }),
  ]));
  const node = await serve((req: IncomingMessage, res: ServerResponse) => listeners[req.url!]!(req, res));
  const app = new Hono();
  app.get("/:name", (c) => sseResponse(c.req.raw, (sse) => twoEvents(sse, c.req.header("cookie")), { cors: cors[c.req.param("name")], keepAliveMs: 0 }));
  const web = await listen(createAdaptorServer({ fetch: app.fetch }) as never);
  servers.push(node, web);
  streams.withSse = node.url;
  streams.sseResponse = web.url;
  page = await browser.newPage();
  await page.goto(site.url);
  // A cookie of the page's host: ports do not separate cookies, so a credentialed request to the streams carries it.
  await page.evaluate(() => void (document.cookie = "session=s1; path=/"));
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([site, ...servers].map((s) => s?.close()));
});

/** Opens an EventSource from the page; resolves with its two events, or at its first error. */
function open(url: string, withCredentials: boolean): Promise<Outcome> {
  return page.evaluate(([url, withCredentials]) => new Promise<Outcome>((resolve) => {
    const source = new EventSource(url, { withCredentials });
    const events: string[] = [];
    source.onmessage = (e) => {
      events.push(e.data as string);
      if (events.length < 2) return;
      source.close();
      resolve({ events, error: false });
    };
    source.onerror = () => {
      const readyState = source.readyState;
      source.close();
      resolve({ events, error: true, readyState });
    };
  }), [url, withCredentials] as const);
}

describe.each(["withSse", "sseResponse"] as const)("a cross-origin EventSource in Chromium, %s", (host) => {
  const GAVE_UP: Outcome = { events: [], error: true, readyState: 2 };

  it("gets the events from an allowed origin without credentials, and none with them unless credentials are allowed", async () => {
    expect(await open(`${streams[host]}/list`, false)).toEqual({ events: ["no cookie", "second"], error: false });
    expect(await open(`${streams[host]}/list`, true)).toEqual(GAVE_UP); // no Access-Control-Allow-Credentials
  });

  it("sends the page's cookie with withCredentials where credentials are allowed", async () => {
    expect(await open(`${streams[host]}/credentials`, true)).toEqual({ events: ["session=s1", "second"], error: false });
    expect(await open(`${streams[host]}/credentials`, false)).toEqual({ events: ["no cookie", "second"], error: false });
  });

  it("reads a stream open to any origin (*) without credentials only", async () => {
    expect(await open(`${streams[host]}/any`, false)).toEqual({ events: ["no cookie", "second"], error: false });
    expect(await open(`${streams[host]}/any`, true)).toEqual(GAVE_UP); // browsers refuse * with credentials
  });

  it("gets no event without the option, or from an origin it does not list", async () => {
    expect(await open(`${streams[host]}/none`, false)).toEqual(GAVE_UP);
    expect(await open(`${streams[host]}/other`, false)).toEqual(GAVE_UP);
  });
});
