// The bell in the top bar and the notifications page, kept in step in every open tab by
// the member's `user:<id>` stream: `notification` brings a new one with the unread count,
// `notifications_read` says which were read elsewhere.
import { connectionState, onConnectionState, subscribe } from "./live";
import { apiFetch, readyThen } from "./fetchjson";

interface LiveEvent {
  stream: string;
  seq: number;
  kind: string;
  payload: Record<string, unknown>;
}

interface NotificationItem {
  id: number;
  kind: string;
  text: string;
  url: string | null;
  read: boolean;
  created_at: string;
}

function setCount(count: number): void {
  const n = Math.max(0, Math.floor(count));
  document.querySelectorAll<HTMLElement>("#notification-bell .badge").forEach((badge) => {
    badge.dataset.count = String(n);
    badge.textContent = n > 99 ? "99+" : String(n);
  });
  const bell = document.querySelector<HTMLElement>("#notification-bell");
  bell?.setAttribute("aria-label", `Notifications, ${n} unread`);
  const counter = document.querySelector<HTMLElement>("#notifications-unread");
  if (counter) counter.textContent = String(n);
}

function listItem(n: NotificationItem): HTMLLIElement {
  const li = document.createElement("li");
  li.className = "notification" + (n.read ? "" : " unread");
  li.dataset.id = String(n.id);
  li.dataset.kind = n.kind;
  const when = document.createElement("time");
  when.className = "muted";
  when.dateTime = n.created_at;
  when.textContent = n.created_at.slice(0, 16).replace("T", " ");
  let text: HTMLElement;
  if (n.url && n.url.startsWith("/")) {
    const a = document.createElement("a");
    a.href = n.url;
    text = a;
  } else {
    text = document.createElement("span");
  }
  text.textContent = n.text;
  li.append(when, " ", text);
  if (!n.read) li.append(" ", markReadButton(n.id));
  return li;
}

function markReadButton(id: number): HTMLButtonElement {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "link mark-read";
  button.textContent = "Mark read";
  button.addEventListener("click", () => void markRead([id]));
  return button;
}

function markListRead(ids: number[] | "all"): void {
  document.querySelectorAll<HTMLElement>("#notification-list .notification.unread").forEach((li) => {
    if (ids === "all" || ids.includes(Number(li.dataset.id))) {
      li.classList.remove("unread");
      li.querySelector(".mark-read")?.remove();
    }
  });
}

async function markRead(ids: number[]): Promise<void> {
  try {
    const result = await apiFetch<{ unread: number }>("/api/v1/notifications/read", "POST", { ids });
    if (result) {
      markListRead(ids);
      setCount(result.unread);
    }
  } catch {
    // the list stays as it was; the form fallback still works after a reload
  }
}

async function markAllRead(): Promise<void> {
  try {
    const result = await apiFetch<{ unread: number }>("/api/v1/notifications/read_all", "POST");
    if (result) {
      markListRead("all");
      setCount(0);
    }
  } catch {
    // as above
  }
}

async function refreshCount(): Promise<void> {
  try {
    const result = await apiFetch<{ unread: number }>("/api/v1/notifications/unread_count");
    if (result) setCount(result.unread);
  } catch {
    // keep the last known count
  }
}

function onEvent(ev: LiveEvent): void {
  const p = ev.payload;
  if (ev.kind === "notification") {
    setCount(Number(p.unread ?? 0));
    const list = document.querySelector<HTMLElement>("#notification-list");
    if (list && !list.querySelector(`[data-id="${Number(p.id)}"]`)) {
      list.querySelector(".empty")?.remove();
      list.prepend(listItem(p as unknown as NotificationItem));
    }
  } else if (ev.kind === "notifications_read") {
    setCount(Number(p.unread ?? 0));
    markListRead(p.all ? "all" : ((p.ids as number[]) ?? []));
  }
}

function enhanceListPage(): void {
  document.querySelectorAll<HTMLFormElement>("#notification-list form.mark-read").forEach((form) => {
    const id = Number(new FormData(form).get("id"));
    form.replaceWith(markReadButton(id));
  });
  document.querySelector<HTMLFormElement>("#notifications-read-all")?.addEventListener("submit", (e) => {
    e.preventDefault();
    void markAllRead();
  });
}

readyThen(() => {
  const me = document.body.dataset.userId;
  if (!me || !document.querySelector("#notification-bell")) return;
  enhanceListPage();
  const page = document.querySelector<HTMLElement>("#notifications[data-seq]");
  const since = page ? Number(page.dataset.seq) : undefined;
  subscribe(`user:${me}`, onEvent, { since, onResync: () => void refreshCount() });
  // After any reconnect the count is re-read, so a badge never stays stale.
  let wasLive = connectionState() === "live";
  onConnectionState((state: string) => {
    if (state === "live" && !wasLive) void refreshCount();
    wasLive = state === "live";
  });
});
