// The moderators' dashboard, live: items appear as they are queued, show at once who
// claimed or was assigned them, and disappear when anyone resolves them. Each `modqueue`
// event carries the whole item, so rows are rebuilt from the payload without a fetch.
import { subscribe } from "./live";
import { apiFetch, csrfToken, readyThen, type ApiFailure } from "./fetchjson";

interface QueueItem {
  id: number;
  item_type: string;
  item_id: number;
  queue_type: string;
  status: string;
  priority: number;
  title: string;
  submitted_by: string | null;
  assigned_to: string | null;
  resolution: string | null;
  created_at: string;
  decisions?: string[];
  report?: {
    reporter: string | null;
    target_type: string;
    target_id: string;
    target_label: string | null;
    target_url?: string | null;
    reason: string;
  };
}

interface LiveEvent {
  stream: string;
  seq: number;
  kind: string;
  payload: Record<string, unknown>;
}

function decisionsFor(itemType: string): string[] {
  if (itemType === "torrent") return ["approve", "reject", "postpone"];
  if (itemType === "report") return ["resolved", "dismissed"];
  return ["resolved"];
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<string, string>> = {},
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value !== undefined) node.setAttribute(key, value);
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

class Dashboard {
  private readonly root: HTMLElement;
  private readonly tbody: HTMLElement;
  private readonly errorBox: HTMLElement;
  private readonly moderators: string[];
  private readonly base: string;

  constructor(root: HTMLElement) {
    this.root = root;
    this.tbody = root.querySelector<HTMLElement>("#modqueue-items")!;
    this.errorBox = root.querySelector<HTMLElement>("#modqueue-error")!;
    this.moderators = JSON.parse(root.dataset.moderators ?? "[]") as string[];
    this.base = root.dataset.actionBase ?? "/api/v1/moderation/queue/";
  }

  start(): void {
    this.tbody.querySelectorAll<HTMLTableRowElement>("tr[data-queue-id]").forEach((row) => this.wire(row));
    subscribe("modqueue", (ev: LiveEvent) => void this.onEvent(ev), {
      since: Number(this.root.dataset.seq ?? "0"),
      onResync: () => void this.reload(),
    });
  }

  private async onEvent(ev: LiveEvent): Promise<void> {
    const item = ev.payload as unknown as QueueItem;
    if (ev.kind === "item_resolved" || item.status === "resolved") {
      this.row(item.id)?.remove();
    } else if (ev.kind === "item_added" && item.item_type === "report" && !item.report) {
      // Reports carry who reported what only in the dashboard's own listing.
      const full = await this.fetchItems();
      this.upsert(full?.find((i) => i.id === item.id) ?? item);
    } else {
      this.upsert(item);
    }
    this.updateCount();
  }

  private row(id: number): HTMLTableRowElement | null {
    return this.tbody.querySelector<HTMLTableRowElement>(`tr[data-queue-id="${id}"]`);
  }

  private upsert(item: QueueItem): void {
    const existing = this.row(item.id);
    if (existing) {
      this.updateStatus(existing, item);
      return;
    }
    const row = this.build(item);
    this.tbody.append(row);
    this.wire(row);
  }

  private updateStatus(row: HTMLTableRowElement, item: QueueItem): void {
    row.dataset.status = item.status;
    const cell = row.querySelector<HTMLElement>(".mod-status");
    if (cell) {
      cell.replaceChildren(item.status.replace("_", " "));
      if (item.assigned_to) {
        cell.append(" · ", el("strong", { class: "mod-assignee" }, item.assigned_to));
      }
    }
    const claim = row.querySelector<HTMLButtonElement>(".mod-claim button");
    if (claim) claim.disabled = item.status === "in_progress";
  }

  private form(item: QueueItem, action: string, cls: string): HTMLFormElement {
    const form = el("form", {
      method: "post",
      action: `/moderation/items/${item.id}`,
      class: `inline ${cls}`,
    });
    form.append(
      el("input", { type: "hidden", name: "csrf_token", value: csrfToken() }),
      el("input", { type: "hidden", name: "action", value: action }),
    );
    return form;
  }

  private build(item: QueueItem): HTMLTableRowElement {
    const row = el("tr", {
      "data-queue-id": String(item.id),
      "data-status": item.status,
      "data-item-type": item.item_type,
    });
    const type = el("td");
    type.append(el("span", { class: "tag" }, item.item_type));
    if (item.queue_type !== "review") type.append(" ", el("span", { class: "tag" }, item.queue_type));

    const title = el("td", { class: "mod-title" });
    if (item.item_type === "torrent") {
      title.append(el("a", { href: `/torrents/${Number(item.item_id)}` }, item.title));
    } else {
      title.append(item.title);
    }
    if (item.report) {
      const r = item.report;
      const line = el("div", { class: "muted mod-report" });
      const target = el("strong", {}, r.target_label ?? r.target_id);
      let shown: HTMLElement = target;
      if (r.target_url && r.target_url.startsWith("/")) {
        shown = el("a", { href: r.target_url });
        shown.append(target);
      }
      line.append(`${r.reporter ?? "someone"} reported ${r.target_type} `, shown, `: ${r.reason}`);
      title.append(line);
    }
    const created = el("td");
    created.append(el("time", { datetime: item.created_at }, item.created_at.slice(0, 16).replace("T", " ")));

    const actions = el("td", { class: "mod-actions" });
    const claim = this.form(item, "claim", "mod-claim");
    claim.append(el("button", { type: "submit", class: "secondary" }, "Claim"));
    const assign = this.form(item, "assign", "mod-assign");
    const select = el("select", { name: "username", "aria-label": "Assign to" });
    for (const name of this.moderators) select.append(el("option", { value: name }, name));
    assign.append(select, " ", el("button", { type: "submit", class: "secondary" }, "Assign"));
    const resolve = this.form(item, "resolve", "mod-resolve");
    resolve.append(el("input", { name: "reason", placeholder: "Reason / note", "aria-label": "Reason" }));
    for (const d of item.decisions ?? decisionsFor(item.item_type)) {
      const danger = d === "reject" || d === "dismissed";
      resolve.append(
        " ",
        el(
          "button",
          { type: "submit", name: "decision", value: d, ...(danger ? { class: "danger" } : {}) },
          d.charAt(0).toUpperCase() + d.slice(1),
        ),
      );
    }
    actions.append(claim, " ", assign, " ", resolve);

    row.append(
      type,
      title,
      el("td", {}, item.submitted_by ?? "—"),
      created,
      el("td", { class: "mod-status" }),
      actions,
    );
    this.updateStatus(row, item);
    return row;
  }

  private wire(row: HTMLTableRowElement): void {
    const id = Number(row.dataset.queueId);
    row.querySelectorAll<HTMLFormElement>("form").forEach((form) => {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const data = new FormData(form);
        const submitter = (event as SubmitEvent).submitter as HTMLButtonElement | null;
        const action = String(data.get("action"));
        if (action === "claim") {
          void this.call(`${this.base}${id}/claim`, {});
        } else if (action === "assign") {
          void this.call(`${this.base}${id}/assign`, { username: String(data.get("username")) });
        } else if (action === "resolve") {
          const reason = String(data.get("reason") ?? "").trim();
          void this.call(`${this.base}${id}/resolve`, {
            decision: submitter?.value ?? "",
            reason: reason || null,
          });
        }
      });
    });
  }

  private async call(url: string, body: Record<string, unknown>): Promise<void> {
    this.errorBox.textContent = "";
    try {
      const result = await apiFetch<unknown>(url, "POST", body);
      if (result === null) this.errorBox.textContent = "Not connected; try again.";
    } catch (failure) {
      this.errorBox.textContent = (failure as ApiFailure).error;
    }
  }

  private async fetchItems(): Promise<QueueItem[] | null> {
    try {
      const data = await apiFetch<{ items: QueueItem[] }>(this.base.replace(/\/$/, ""));
      return data?.items ?? null;
    } catch {
      return null;
    }
  }

  private async reload(): Promise<void> {
    const items = await this.fetchItems();
    if (!items) return;
    this.tbody.replaceChildren();
    for (const item of items) this.upsert(item);
    this.updateCount();
  }

  private updateCount(): void {
    const n = this.tbody.querySelectorAll("tr[data-queue-id]").length;
    const count = this.root.querySelector<HTMLElement>("#modqueue-count");
    if (count) count.textContent = String(n);
    const empty = this.root.querySelector<HTMLElement>("#modqueue-empty");
    if (empty) empty.hidden = n > 0;
  }
}

readyThen(() => {
  const root = document.querySelector<HTMLElement>("#modqueue");
  if (root) new Dashboard(root).start();
});
