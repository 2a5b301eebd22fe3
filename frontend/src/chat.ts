// The live chat room: messages, edits and deletions from the room's stream, sending with
// an acknowledgement, typing and who is online. Every piece of user text reaches the page
// through textContent or a text node; links and @mentions are built as elements, so no
// message can inject markup.
import { emitWithAck, onEphemeral, subscribe } from "./live";
import { apiFetch, readyThen, type ApiFailure } from "./fetchjson";

interface ChatMessage {
  id: number;
  room_id: number;
  user_id: string | null;
  username: string;
  body: string;
  created_at: string;
  edited_at: string | null;
  deleted: boolean;
}

interface Ack {
  ok: boolean;
  error?: string;
  message?: unknown;
  retry_after?: number;
}

interface LiveEvent {
  stream: string;
  seq: number;
  kind: string;
  payload: Record<string, unknown>;
}

// Same token rules as hub/pages/chat.py render_body: http(s) links, then @names.
const TOKEN_RE =
  /(https?:\/\/[^\s<>"']+)|(?<![\w@])@([A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,30}[A-Za-z0-9_])?)/g;

export function renderBody(text: string): DocumentFragment {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(TOKEN_RE)) {
    const start = match.index ?? 0;
    if (start > last) fragment.append(document.createTextNode(text.slice(last, start)));
    if (match[1]) {
      let url = match[1];
      let trail = "";
      while (url && ".,;:!?)".includes(url[url.length - 1])) {
        trail = url[url.length - 1] + trail;
        url = url.slice(0, -1);
      }
      let safe: URL | null = null;
      try {
        safe = new URL(url);
      } catch {
        safe = null;
      }
      if (safe && (safe.protocol === "http:" || safe.protocol === "https:")) {
        const a = document.createElement("a");
        a.href = safe.href;
        a.rel = "nofollow noopener noreferrer";
        a.target = "_blank";
        a.textContent = url;
        fragment.append(a);
      } else {
        fragment.append(document.createTextNode(url));
      }
      if (trail) fragment.append(document.createTextNode(trail));
    } else {
      const span = document.createElement("span");
      span.className = "mention";
      span.dataset.username = match[2];
      span.textContent = "@" + match[2];
      fragment.append(span);
    }
    last = start + match[0].length;
  }
  if (last < text.length) fragment.append(document.createTextNode(text.slice(last)));
  return fragment;
}

class ChatRoom {
  private readonly root: HTMLElement;
  private readonly log: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly errorBox: HTMLElement;
  private readonly typingBox: HTMLElement;
  private readonly online: HTMLElement;
  private readonly room: string;
  private readonly stream: string;
  private readonly me: string;
  private readonly moderator: boolean;
  private readonly editWindowMs: number;
  private readonly typers = new Map<string, { name: string; timer: number }>();
  private lastTypingSent = 0;
  private stopTypingTimer = 0;

  constructor(root: HTMLElement) {
    this.root = root;
    this.log = root.querySelector<HTMLElement>("#chat-log")!;
    this.input = root.querySelector<HTMLInputElement>("#chat-input")!;
    this.errorBox = root.querySelector<HTMLElement>("#chat-error")!;
    this.typingBox = root.querySelector<HTMLElement>("#chat-typing")!;
    this.online = root.querySelector<HTMLElement>("#chat-online")!;
    this.room = root.dataset.room ?? "";
    this.stream = root.dataset.stream ?? "";
    this.me = document.body.dataset.userId ?? "";
    this.moderator = root.dataset.moderator === "true";
    this.editWindowMs = Number(root.dataset.editWindow ?? "300") * 1000;
  }

  start(): void {
    this.log.querySelectorAll<HTMLElement>(".chat-message").forEach((el) => this.addControls(el));
    this.scrollToEnd(true);
    const since = Number(this.root.dataset.seq ?? "0");
    subscribe(this.stream, (ev: LiveEvent) => this.onEvent(ev), {
      since,
      onResync: () => void this.reload(),
    });
    onEphemeral("typing", (data: unknown) => this.onTyping(data as Record<string, unknown>));
    onEphemeral("presence", (data: unknown) => this.onPresence(data as Record<string, unknown>));
    const form = this.root.querySelector<HTMLFormElement>("#chat-form")!;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.send();
    });
    this.input.addEventListener("input", () => this.typing());
    this.root.querySelector<HTMLButtonElement>("#chat-older")?.addEventListener("click", () => {
      void this.older();
    });
  }

  private onEvent(ev: LiveEvent): void {
    if (ev.kind === "message") {
      this.upsert(ev.payload as unknown as ChatMessage);
    } else if (ev.kind === "message_edited") {
      this.upsert(ev.payload as unknown as ChatMessage);
    } else if (ev.kind === "message_deleted") {
      const el = this.log.querySelector<HTMLElement>(`#m${Number(ev.payload.id)}`);
      if (el) this.markDeleted(el);
    }
  }

  private nearBottom(): boolean {
    return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 80;
  }

  private scrollToEnd(force = false): void {
    if (force || this.nearBottom()) this.log.scrollTop = this.log.scrollHeight;
  }

  private build(msg: ChatMessage): HTMLElement {
    const el = document.createElement("div");
    el.className = "chat-message";
    el.id = `m${msg.id}`;
    el.dataset.id = String(msg.id);
    el.dataset.userId = msg.user_id ?? "";
    el.dataset.createdAt = msg.created_at;
    const when = document.createElement("time");
    when.className = "when";
    when.dateTime = msg.created_at;
    const date = new Date(msg.created_at);
    when.textContent = date.toISOString().slice(11, 16);
    when.title = date.toLocaleString();
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = msg.username;
    const body = document.createElement("span");
    body.className = "body";
    el.append(when, " ", who, " ", body);
    this.fill(el, msg);
    return el;
  }

  private fill(el: HTMLElement, msg: ChatMessage): void {
    const body = el.querySelector<HTMLElement>(".body")!;
    el.querySelector(".edited")?.remove();
    if (msg.deleted) {
      this.markDeleted(el);
      return;
    }
    body.replaceChildren(renderBody(msg.body));
    if (msg.edited_at) {
      const edited = document.createElement("span");
      edited.className = "muted edited";
      edited.textContent = " (edited)";
      body.after(edited);
    }
  }

  private markDeleted(el: HTMLElement): void {
    el.classList.add("deleted");
    const body = el.querySelector<HTMLElement>(".body");
    if (body) {
      body.classList.add("muted");
      body.textContent = "message deleted";
    }
    el.querySelector(".edited")?.remove();
    el.querySelector(".chat-controls")?.remove();
  }

  private upsert(msg: ChatMessage): void {
    const existing = this.log.querySelector<HTMLElement>(`#m${msg.id}`);
    if (existing) {
      this.fill(existing, msg);
      return;
    }
    this.log.querySelector(".chat-empty")?.remove();
    const stick = this.nearBottom() || msg.user_id === this.me;
    const el = this.build(msg);
    this.addControls(el);
    this.log.append(el);
    if (stick) this.scrollToEnd(true);
    if (msg.user_id) this.clearTyper(msg.user_id);
  }

  private addControls(el: HTMLElement): void {
    if (el.classList.contains("deleted") || el.querySelector(".chat-controls")) return;
    const mine = this.me !== "" && el.dataset.userId === this.me;
    const age = Date.now() - new Date(el.dataset.createdAt ?? "").getTime();
    const editable = mine && age < this.editWindowMs;
    if (!editable && !this.moderator && mine) return;
    const controls = document.createElement("span");
    controls.className = "chat-controls";
    const id = Number(el.dataset.id);
    if (editable) {
      controls.append(this.button("edit", () => this.edit(el, id)));
      window.setTimeout(() => controls.querySelector(".chat-edit")?.remove(), this.editWindowMs - age);
    }
    if (editable || this.moderator) {
      controls.append(this.button("delete", () => void this.remove(id)));
    }
    if (this.moderator && !mine) {
      const name = el.querySelector(".who")?.textContent ?? "";
      controls.append(this.button("mute", () => void this.mute(name)));
    }
    if (!mine) {
      const report = document.createElement("a");
      report.className = "chat-report";
      report.href = `/report?type=chat_message&id=${id}`;
      report.textContent = "report";
      controls.append(report);
    }
    el.append(" ", controls);
  }

  private button(label: string, onClick: () => void): HTMLButtonElement {
    const b = document.createElement("button");
    b.type = "button";
    b.className = `link chat-${label}`;
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  private showError(text: string): void {
    this.errorBox.textContent = text;
  }

  private async ack(event: string, data: Record<string, unknown>): Promise<Ack> {
    try {
      return (await emitWithAck(event, data)) as Ack;
    } catch {
      if (event === "chat:send") return this.sendOverHttp(String(data.body ?? ""));
      return { ok: false, error: "offline", message: "Not connected: try again in a moment." };
    }
  }

  // Without a live connection a message still goes out through the JSON API.
  private async sendOverHttp(body: string): Promise<Ack> {
    const url = `/api/v1/chat/rooms/${encodeURIComponent(this.room)}/messages`;
    try {
      const result = await apiFetch<{ message: ChatMessage }>(url, "POST", { body });
      if (result) return { ok: true, message: result.message };
      return { ok: false, error: "offline", message: "Not connected: your message was not sent." };
    } catch (failure) {
      return { ok: false, error: "refused", message: (failure as ApiFailure).error };
    }
  }

  private async send(): Promise<void> {
    const body = this.input.value.trim();
    if (!body) return;
    this.showError("");
    const ack = await this.ack("chat:send", { room: this.room, body });
    if (ack.ok) {
      this.input.value = "";
      this.sendTyping(false);
      if (ack.message) this.upsert(ack.message as ChatMessage);
    } else {
      this.showError(String(ack.message ?? "Your message was not sent."));
    }
  }

  private edit(el: HTMLElement, id: number): void {
    const body = el.querySelector<HTMLElement>(".body");
    if (!body || el.querySelector(".chat-edit-input")) return;
    const input = document.createElement("input");
    input.className = "chat-edit-input";
    input.value = body.textContent ?? "";
    body.hidden = true;
    body.after(input);
    input.focus();
    const done = (): void => {
      input.remove();
      body.hidden = false;
    };
    input.addEventListener("keydown", async (event) => {
      if (event.key === "Escape") done();
      if (event.key !== "Enter") return;
      event.preventDefault();
      const ack = await this.ack("chat:edit", { id, body: input.value });
      if (!ack.ok) this.showError(String(ack.message ?? "Not saved."));
      else if (ack.message) this.upsert(ack.message as ChatMessage);
      done();
    });
  }

  private async remove(id: number): Promise<void> {
    if (!window.confirm("Delete this message?")) return;
    const ack = await this.ack("chat:delete", { id });
    if (!ack.ok) this.showError(String(ack.message ?? "Not deleted."));
  }

  private async mute(username: string): Promise<void> {
    const answer = window.prompt(`Mute ${username} in this room for how many minutes?`, "10");
    if (!answer) return;
    const minutes = Number(answer);
    if (!Number.isFinite(minutes) || minutes <= 0) return;
    const ack = await this.ack("chat:mute", {
      username,
      room: this.room,
      seconds: Math.round(minutes * 60),
    });
    this.showError(ack.ok ? "" : String(ack.message ?? "Not muted."));
  }

  private typing(): void {
    const now = Date.now();
    if (now - this.lastTypingSent > 2000) {
      this.lastTypingSent = now;
      this.sendTyping(true);
    }
    window.clearTimeout(this.stopTypingTimer);
    this.stopTypingTimer = window.setTimeout(() => this.sendTyping(false), 3000);
  }

  private sendTyping(on: boolean): void {
    if (!on) {
      this.lastTypingSent = 0;
      window.clearTimeout(this.stopTypingTimer);
    }
    emitWithAck("typing", { stream: this.stream, typing: on }).catch(() => undefined);
  }

  private onTyping(data: Record<string, unknown>): void {
    if (data.stream !== this.stream) return;
    const userId = String(data.user_id ?? "");
    if (!userId || userId === this.me) return;
    if (!data.typing) {
      this.clearTyper(userId);
      return;
    }
    const previous = this.typers.get(userId);
    if (previous) window.clearTimeout(previous.timer);
    const timer = window.setTimeout(() => this.clearTyper(userId), 5000);
    this.typers.set(userId, { name: String(data.username ?? "someone"), timer });
    this.renderTypers();
  }

  private clearTyper(userId: string): void {
    const entry = this.typers.get(userId);
    if (!entry) return;
    window.clearTimeout(entry.timer);
    this.typers.delete(userId);
    this.renderTypers();
  }

  private renderTypers(): void {
    const names = [...this.typers.values()].map((t) => t.name);
    this.typingBox.textContent =
      names.length === 0
        ? ""
        : names.length === 1
          ? `${names[0]} is typing…`
          : `${names.slice(0, 3).join(", ")} are typing…`;
  }

  private onPresence(data: Record<string, unknown>): void {
    if (data.stream !== this.stream) return;
    const users = (data.users as { user_id: string; username: string }[]) ?? [];
    const items = users
      .slice()
      .sort((a, b) => a.username.localeCompare(b.username))
      .map((u) => {
        const li = document.createElement("li");
        li.textContent = u.username;
        li.dataset.userId = u.user_id;
        return li;
      });
    if (items.length === 0) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "Nobody else is here.";
      items.push(li);
    }
    this.online.replaceChildren(...items);
  }

  private historyUrl(before?: number): string {
    const base = this.root.dataset.historyUrl ?? "";
    return before ? `${base}?before=${before}` : base;
  }

  private async older(): Promise<void> {
    const first = this.log.querySelector<HTMLElement>(".chat-message");
    const before = first ? Number(first.dataset.id) : undefined;
    const page = await apiFetch<{ messages: ChatMessage[]; has_more: boolean }>(
      this.historyUrl(before),
    ).catch(() => null);
    if (!page) return;
    const anchor = this.log.querySelector(".chat-more");
    const height = this.log.scrollHeight;
    const fragment = document.createDocumentFragment();
    for (const msg of page.messages) {
      if (this.log.querySelector(`#m${msg.id}`)) continue;
      const el = this.build(msg);
      this.addControls(el);
      fragment.append(el);
    }
    (anchor ?? this.log.firstChild)?.after(fragment);
    this.log.scrollTop += this.log.scrollHeight - height;
    if (!page.has_more) anchor?.classList.add("hidden");
  }

  private async reload(): Promise<void> {
    const page = await apiFetch<{ messages: ChatMessage[]; has_more: boolean }>(
      this.historyUrl(),
    ).catch(() => null);
    if (!page) return;
    this.log.querySelectorAll(".chat-message").forEach((el) => el.remove());
    for (const msg of page.messages) this.upsert(msg);
    this.log.querySelector(".chat-more")?.classList.toggle("hidden", !page.has_more);
    this.scrollToEnd(true);
  }
}

readyThen(() => {
  const root = document.querySelector<HTMLElement>("#chat[data-stream]");
  if (root) new ChatRoom(root).start();
});
