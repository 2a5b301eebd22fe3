// The one live connection of a page: connects, keeps the last sequence seen per stream,
// resumes after any break, hands each event to the widgets exactly once and in order, and
// shows the connection state in #live-status. The protocol is in docs/realtime.md.
import { io, Socket } from "socket.io-client";

export interface LiveEvent {
  stream: string;
  seq: number;
  kind: string;
  payload: Record<string, unknown>;
}

export type ConnectionState = "live" | "reconnecting" | "offline";
export type StreamHandler = (event: LiveEvent) => void;

export interface SubscribeOptions {
  // The sequence the page's HTML was rendered at (server-side); events after it are
  // delivered. Without it the tab resumes where it last was, or starts from now.
  since?: number | null;
  // The gap was older than the server's log: reload this widget's state from the API.
  onResync?: () => void;
  // The server refused the stream (ack error code and message).
  onError?: (code: string, message: string) => void;
}

interface StreamState {
  last: number | null; // null until the server told us where the stream stands
  buffer: Map<number, LiveEvent>; // arrived ahead of a gap, waiting for the missing ones
  handlers: Set<StreamHandler>;
  options: Set<SubscribeOptions>;
  inFlight: boolean;
  gapTimer: number | null;
}

interface Ack {
  ok: boolean;
  error?: string;
  message?: string;
  streams?: Record<string, { ok: boolean; last_seq?: number | null; error?: string; message?: string }>;
  [key: string]: unknown;
}

const STORAGE_KEY = "hub.live.seqs";
const ACK_TIMEOUT_MS = 10_000;
// A gap may just be two emits overtaking each other; ask the server only if it stays.
const GAP_WAIT_MS = 400;
const BUILTIN_EVENTS = new Set(["event", "resync", "catchup", "kicked", "unsubscribed"]);

const streams = new Map<string, StreamState>();
const ephemeral = new Map<string, Set<(data: unknown) => void>>();
const stateListeners = new Set<(state: ConnectionState, detail: string) => void>();
let socket: Socket | null = null;
let state: ConnectionState = "offline";
let detail = "Not connected.";
let stopped = false; // kicked or refused: wait for a page load instead of retrying
let refusedAttempts = 0; // "unavailable" refusals in a row, for the retry back-off

function storedSeqs(): Record<string, number> {
  try {
    const raw = window.sessionStorage.getItem(STORAGE_KEY);
    return raw ? (JSON.parse(raw) as Record<string, number>) : {};
  } catch {
    return {};
  }
}

function saveSeqs(): void {
  const out: Record<string, number> = storedSeqs();
  for (const [name, st] of streams) if (st.last !== null) out[name] = st.last;
  try {
    window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(out));
  } catch {
    /* storage full or disabled: memory still works for this page */
  }
}

function setState(next: ConnectionState, text: string): void {
  state = next;
  detail = text;
  const el = document.getElementById("live-status");
  if (el) {
    el.dataset.state = next;
    el.textContent = next === "live" ? "live" : next === "reconnecting" ? "reconnecting…" : "offline";
    el.title = text;
    el.setAttribute("aria-label", `Live updates: ${text}`);
  }
  for (const fn of stateListeners) fn(next, text);
}

export function connectionState(): ConnectionState {
  return state;
}

export function connectionDetail(): string {
  return detail;
}

export function onConnectionState(fn: (state: ConnectionState, detail: string) => void): () => void {
  stateListeners.add(fn);
  return () => stateListeners.delete(fn);
}

function deliver(st: StreamState, event: LiveEvent): void {
  for (const handler of st.handlers) {
    try {
      handler(event);
    } catch (err) {
      console.error("live handler failed", err);
    }
  }
}

function drain(name: string, st: StreamState): void {
  if (st.last === null) return;
  for (const seq of st.buffer.keys()) if (seq <= st.last) st.buffer.delete(seq);
  let next = st.buffer.get(st.last + 1);
  while (next) {
    st.buffer.delete(next.seq);
    st.last = next.seq;
    deliver(st, next);
    next = st.buffer.get(st.last + 1);
  }
  saveSeqs();
  if (st.buffer.size > 0 && st.gapTimer === null) {
    st.gapTimer = window.setTimeout(() => {
      st.gapTimer = null;
      if (st.buffer.size > 0 && streams.get(name) === st) void requestSubscribe([name]);
    }, GAP_WAIT_MS);
  }
}

function onEvent(event: LiveEvent): void {
  const st = streams.get(event.stream);
  if (!st || typeof event.seq !== "number") return;
  if (st.last !== null && event.seq <= st.last) return; // already seen
  st.buffer.set(event.seq, event);
  drain(event.stream, st);
}

function onResyncMessage(data: { stream: string; last_seq: number }): void {
  const st = streams.get(data.stream);
  if (!st) return;
  st.last = data.last_seq;
  drain(data.stream, st);
  for (const opts of st.options) opts.onResync?.();
}

async function requestSubscribe(names: string[]): Promise<void> {
  if (!socket || !socket.connected) return; // sent again on (re)connect
  const wanted: Record<string, number | null> = {};
  for (const name of names) {
    const st = streams.get(name);
    if (!st || st.inFlight) continue;
    st.inFlight = true;
    wanted[name] = st.last;
  }
  const list = Object.keys(wanted);
  if (list.length === 0) return;
  let ack: Ack;
  try {
    ack = (await socket.timeout(ACK_TIMEOUT_MS).emitWithAck("subscribe", { streams: wanted })) as Ack;
  } catch {
    ack = { ok: false, error: "timeout", message: "The server did not answer." };
  }
  for (const name of list) {
    const st = streams.get(name);
    if (!st) continue;
    st.inFlight = false;
    const result = ack.streams?.[name];
    if (!ack.ok || !result) {
      // Transport trouble or a rate limit: try again shortly while connected.
      window.setTimeout(() => void requestSubscribe([name]), 2000);
      continue;
    }
    if (!result.ok) {
      for (const opts of st.options) opts.onError?.(result.error ?? "error", result.message ?? "");
      console.warn(`live: ${name} refused: ${result.message ?? result.error}`);
      continue;
    }
    if (st.last === null && typeof result.last_seq === "number") st.last = result.last_seq;
    drain(name, st);
  }
}

export function subscribe(name: string, handler: StreamHandler, options: SubscribeOptions = {}): () => void {
  let st = streams.get(name);
  if (!st) {
    const since = options.since;
    const stored = storedSeqs()[name];
    const last =
      typeof since === "number" && Number.isFinite(since) && since >= 0
        ? since
        : typeof stored === "number"
          ? stored
          : null;
    st = { last, buffer: new Map(), handlers: new Set(), options: new Set(), inFlight: false, gapTimer: null };
    streams.set(name, st);
    start();
    void requestSubscribe([name]);
  }
  st.handlers.add(handler);
  st.options.add(options);
  const mine = st;
  return () => {
    mine.handlers.delete(handler);
    mine.options.delete(options);
    if (mine.handlers.size === 0 && streams.get(name) === mine) {
      streams.delete(name);
      if (socket?.connected) socket.emit("unsubscribe", { streams: [name] });
    }
  };
}

export function onEphemeral(event: string, handler: (data: unknown) => void): () => void {
  let set = ephemeral.get(event);
  if (!set) {
    set = new Set();
    ephemeral.set(event, set);
  }
  set.add(handler);
  start();
  const mine = set;
  return () => mine.delete(handler);
}

export async function emitWithAck(event: string, data: unknown, timeoutMs = ACK_TIMEOUT_MS): Promise<unknown> {
  if (!socket || !socket.connected) throw new Error("Not connected to live updates.");
  return socket.timeout(timeoutMs).emitWithAck(event, data);
}

function signedIn(): boolean {
  return Boolean(document.body?.dataset.userId);
}

export function start(): void {
  if (socket || stopped) return;
  if (!signedIn()) {
    setState("offline", "Sign in to get live updates.");
    return;
  }
  socket = io({
    transports: ["websocket"],
    reconnection: true,
    reconnectionDelay: 1000,
    reconnectionDelayMax: 30_000,
    randomizationFactor: 0.5,
  });
  setState("reconnecting", "Connecting…");
  socket.on("connect", () => {
    refusedAttempts = 0;
    setState("live", "Live updates are on.");
    void requestSubscribe([...streams.keys()]);
  });
  socket.on("disconnect", (reason: string) => {
    for (const st of streams.values()) st.inFlight = false;
    if (reason === "io server disconnect" || stopped) {
      // The server closed it on purpose (signed out, banned): retrying would not help.
      if (!stopped) setState("offline", "The server closed the connection. Reload the page to retry.");
      return;
    }
    setState("reconnecting", "Connection lost. Reconnecting…");
  });
  socket.on("connect_error", (err: Error & { data?: { code?: string } }) => {
    if (socket && !socket.active) {
      if (err.data?.code === "unavailable") {
        // The server is up but cannot check credentials just now: try again later.
        const delay = Math.min(30_000, 1000 * 2 ** refusedAttempts) * (0.5 + Math.random());
        refusedAttempts += 1;
        setState("reconnecting", `${err.message} Next try in ${Math.round(delay / 1000)} s.`);
        window.setTimeout(() => socket?.connect(), delay);
        return;
      }
      // Refused by the server (not signed in, session ended): show why, stop trying.
      stopped = true;
      setState("offline", err.message || "Live updates are unavailable.");
      return;
    }
    setState("reconnecting", "Cannot reach the server. Retrying…");
  });
  socket.io.on("reconnect_attempt", (attempt: number) => {
    setState("reconnecting", `Connection lost. Reconnecting (attempt ${attempt})…`);
  });
  socket.on("event", (event: LiveEvent) => onEvent(event));
  socket.on("resync", (data: { stream: string; last_seq: number }) => onResyncMessage(data));
  socket.on("catchup", () => void requestSubscribe([...streams.keys()]));
  socket.on("unsubscribed", (data: { stream: string; error: string; message: string }) => {
    // The member's rights changed and this stream is no longer theirs to follow.
    const st = streams.get(data.stream);
    if (!st) return;
    streams.delete(data.stream);
    for (const opts of st.options) opts.onError?.(data.error, data.message);
  });
  socket.on("kicked", (data: { reason?: string }) => {
    stopped = true;
    setState("offline", `Signed out of live updates: ${data?.reason ?? "session ended"}.`);
  });
  socket.onAny((event: string, data: unknown) => {
    if (BUILTIN_EVENTS.has(event)) return;
    for (const fn of ephemeral.get(event) ?? []) {
      try {
        fn(data);
      } catch (err) {
        console.error("live handler failed", err);
      }
    }
  });
  window.addEventListener("offline", () => setState("offline", "Your device is offline. Waiting for the network…"));
  window.addEventListener("online", () => {
    if (socket && !socket.connected && !stopped) {
      setState("reconnecting", "Back online. Reconnecting…");
      socket.connect();
    }
  });
}

// Every page shows the state; signed-in pages connect at once (the bell lives on every page).
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", () => start());
} else {
  start();
}
