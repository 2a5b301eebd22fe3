// Live seeder / leecher / snatch counts on torrent pages and the browse list.
// Any element carrying data-live-seeders="<torrent id>" (or -leechers, -completed) shows
// that number and is kept current from the tracker's published counts.
import { connectionState, emitWithAck, onConnectionState, onEphemeral, subscribe } from "./live";

interface Counts {
  torrent_id: number;
  seeders: number;
  leechers: number;
  completed: number;
}

const FIELDS = ["seeders", "leechers", "completed"] as const;

function torrentIds(): number[] {
  const ids = new Set<number>();
  for (const field of FIELDS) {
    for (const el of document.querySelectorAll<HTMLElement>(`[data-live-${field}]`)) {
      const id = Number(el.getAttribute(`data-live-${field}`));
      if (Number.isInteger(id) && id > 0) ids.add(id);
    }
  }
  return [...ids];
}

function apply(counts: Counts): void {
  for (const field of FIELDS) {
    const value = counts[field];
    if (typeof value !== "number") continue;
    const text = value.toLocaleString();
    for (const el of document.querySelectorAll<HTMLElement>(`[data-live-${field}="${counts.torrent_id}"]`)) {
      if (el.textContent !== text) {
        el.textContent = text;
        el.dataset.liveUpdated = String(Date.now());
      }
    }
  }
}

async function fetchLatest(ids: number[]): Promise<void> {
  try {
    const ack = (await emitWithAck("counts", { torrent_ids: ids.slice(0, 200) })) as {
      ok: boolean;
      counts?: Record<string, Counts>;
    };
    if (ack.ok && ack.counts) for (const counts of Object.values(ack.counts)) apply(counts);
  } catch {
    /* offline: the next connection asks again */
  }
}

const wanted = new Set<number>();
let listening = false;
let torrentRoom: number | null = null;
let browseRoom = false;

function listen(): void {
  if (listening) return;
  listening = true;
  onEphemeral("counts", (data) => {
    const counts = data as Counts;
    if (wanted.has(counts.torrent_id)) apply(counts);
  });
  onEphemeral("counts_batch", (data) => {
    for (const counts of (data as { counts: Counts[] }).counts ?? []) {
      if (wanted.has(counts.torrent_id)) apply(counts);
    }
  });
}

// Finds count elements, including ones added after load (lists that grow, pages that
// render parts later), and follows their torrents.
function scan(): void {
  const fresh = torrentIds().filter((id) => !wanted.has(id));
  if (fresh.length === 0) return;
  for (const id of fresh) wanted.add(id);
  listen();
  if (wanted.size === 1 && !browseRoom) {
    // A torrent's own page: its room gets every change at once, and the latest on join.
    torrentRoom = fresh[0];
    subscribe(`torrent:${torrentRoom}`, () => undefined);
    return;
  }
  if (!browseRoom) {
    // A list: one shared room with batched changes; batches only carry what changed, so
    // the current values are asked for on every (re)connection.
    browseRoom = true;
    subscribe("browse", () => undefined);
    onConnectionState((state) => {
      if (state === "live") void fetchLatest([...wanted]);
    });
  }
  if (connectionState() === "live") void fetchLatest(fresh);
}

function init(): void {
  scan();
  let pending = false;
  new MutationObserver(() => {
    if (pending) return;
    pending = true;
    window.setTimeout(() => {
      pending = false;
      scan();
    }, 100);
  }).observe(document.body, { childList: true, subtree: true });
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", init);
} else {
  init();
}
