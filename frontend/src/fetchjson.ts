// JSON calls to the site's own API from the live widgets (chat, notifications, modqueue):
// same-origin, with the CSRF header the server expects on writes.

export function csrfToken(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? "";
}

export interface ApiFailure {
  error: string;
  status: number;
}

// Resolves to the parsed body, or null on a network error; 4xx/5xx bodies are thrown as
// ApiFailure so callers can show the server's message.
export async function apiFetch<T>(
  url: string,
  method = "GET",
  body?: unknown,
): Promise<T | null> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        ...(method === "GET" ? {} : { "X-CSRF-Token": csrfToken() }),
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return null;
  }
  const data = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) {
    const failure: ApiFailure = {
      error: String(data.error ?? `request failed (${response.status})`),
      status: response.status,
    };
    throw failure;
  }
  return data as T;
}

export function readyThen(fn: () => void): void {
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", fn, { once: true });
  } else {
    fn();
  }
}
