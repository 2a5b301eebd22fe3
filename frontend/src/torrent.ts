// A torrent's page follows its `torrent:<id>` stream: the moderation status, freeleech
// flags and tag scores change in front of the reader without a reload.
import { LiveEvent, subscribe } from "./live";

const FLAG_LABELS: Array<[string, string, string]> = [
  ["is_freeleech", "Freeleech", "flag-badge flag-free"],
  ["is_neutral_leech", "Neutral leech", "flag-badge"],
  ["is_double_upload", "Double upload", "flag-badge"],
];

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function onModeration(root: HTMLElement, payload: Record<string, unknown>): void {
  const status = String(payload.status ?? "");
  const badge = root.querySelector<HTMLElement>("#moderation-status");
  if (badge && status) {
    badge.textContent = capitalise(status);
    badge.dataset.status = status;
  }
  const note = root.querySelector<HTMLElement>("#live-moderation");
  if (note) {
    const reason = typeof payload.reason === "string" && payload.reason ? `: ${payload.reason}` : "";
    note.textContent = `${capitalise(status)} just now${reason}.`;
    note.hidden = false;
  }
  const download = root.querySelector<HTMLElement>("#download-link");
  if (status === "approved" && !download) {
    // Members who could not fetch a pending torrent may now: the server decides on reload.
    root.dataset.needsReload = "1";
  }
}

function onFlags(root: HTMLElement, payload: Record<string, unknown>): void {
  const holder = root.querySelector<HTMLElement>("#flag-badges");
  if (!holder) return;
  holder.replaceChildren();
  for (const [key, label, cls] of FLAG_LABELS) {
    if (payload[key] !== true) continue;
    const span = document.createElement("span");
    span.className = cls;
    span.textContent = label;
    holder.append(span, " ");
  }
}

function onTags(payload: Record<string, unknown>): void {
  const tags = Array.isArray(payload.tags) ? (payload.tags as Array<{ name: string; score: number }>) : [];
  for (const tag of tags) {
    const score = document.querySelector<HTMLElement>(`#tags li[data-tag="${CSS.escape(tag.name)}"] .score`);
    if (score) score.textContent = String(tag.score);
  }
}

function init(): void {
  const root = document.querySelector<HTMLElement>("#torrent[data-stream]");
  if (!root) return;
  const stream = root.dataset.stream as string;
  const seq = root.dataset.seq ? Number(root.dataset.seq) : null;
  subscribe(
    stream,
    (event: LiveEvent) => {
      if (event.kind === "moderation") onModeration(root, event.payload);
      else if (event.kind === "flags") onFlags(root, event.payload);
      else if (event.kind === "tags") onTags(event.payload);
    },
    { since: seq, onResync: () => window.location.reload() },
  );
}

// The browse list tells its reader when torrents go live, without reshuffling the table.
function initBrowse(): void {
  const list = document.querySelector<HTMLElement>("#torrent-list");
  const notice = document.querySelector<HTMLElement>("#new-torrents");
  if (!list || !notice) return;
  let count = 0;
  subscribe("site", (event: LiveEvent) => {
    if (event.kind !== "torrent_listed") return;
    const id = Number(event.payload.id);
    if (list.querySelector(`tr[data-torrent-id="${id}"]`)) return;
    count += 1;
    const link = notice.querySelector("a");
    const text = notice.querySelector<HTMLElement>(".count");
    if (text) text.textContent = count === 1 ? "1 new torrent" : `${count} new torrents`;
    if (link) link.setAttribute("href", window.location.href);
    notice.hidden = false;
  });
}

init();
initBrowse();
