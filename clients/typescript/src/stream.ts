// A typed wrapper over EventSource for Herald's stream. Written by hand; the types come from
// ./generated (made from the AsyncAPI document by tools/generate.mjs), so a new event type in the
// registry reaches this wrapper by regenerating, with no change here.
import { EVENT_NAMES, RESUMABLE, STREAM_PATH, type HeraldEventMap, type HeraldEventName } from './generated/events';

export * from './generated/events';

/** What a listener gets beside the payload. */
export interface EventMeta<K extends HeraldEventName> {
  name: K;
  /** The event's `id:` (its position), or undefined for `stream.end`, which has none. */
  id: string | undefined;
}

export type Listener<K extends HeraldEventName> = (payload: HeraldEventMap[K], meta: EventMeta<K>) => void;

/** The part of EventSource this wrapper uses, so that a Node implementation (the `eventsource` package) fits. */
export interface EventSourceLike {
  readonly readyState: number;
  onerror: ((event: Event) => unknown) | null;
  addEventListener(type: string, listener: (event: MessageEvent<string>) => void): void;
  close(): void;
}

export type EventSourceFactory = (url: string, init: { withCredentials: boolean }) => EventSourceLike;

export interface HeraldStreamOptions {
  /** Where Herald is: the AsyncAPI document's server, e.g. `https://events.example.com` (a path prefix is kept). */
  baseUrl: string;
  /** Only events of these categories (all when absent). */
  categories?: readonly string[];
  /** Resume after this position: the `position` of `GET /api/v1/reports`, or an id kept from an earlier page. */
  lastEventId?: string;
  /**
   * A fresh single-use ticket (`POST /api/v1/events/tickets`) for each connection. Without it the browser's
   * stream cookie (`POST /api/v1/events/cookie`) authenticates, and EventSource reconnects on its own.
   */
  ticket?: () => Promise<string>;
  /** How to make an EventSource (default: the global one, as in browsers). */
  eventSource?: EventSourceFactory;
  /** Wait before a reconnect this wrapper makes itself (ticket authentication), in ms (default 3000). */
  retryMs?: number;
}

const CLOSED = 2;

/**
 * The authenticated user's events, typed by name.
 *
 * `stream.reset` means events may have been missed: reload the state it concerns. `stream.end` with
 * `credential_expired` or `session_revoked` closes this stream (authenticate again, then `open()`); with
 * `shutdown` the stream reconnects, resuming after the last id received.
 */
export class HeraldStream {
  readonly #options: HeraldStreamOptions;
  readonly #listeners = new Map<HeraldEventName, Set<(payload: never, meta: never) => void>>();
  readonly #errorListeners = new Set<(error: Error) => void>();
  #source: EventSourceLike | undefined;
  #lastEventId: string | undefined;
  #open = false;
  #retry: ReturnType<typeof setTimeout> | undefined;

  constructor(options: HeraldStreamOptions) {
    this.#options = options;
    this.#lastEventId = options.lastEventId;
  }

  /** The id of the last event received: where a new stream resumes. */
  get lastEventId(): string | undefined {
    return this.#lastEventId;
  }

  /** Call `listener` for each event named `name`; returns the function that stops it. */
  on<K extends HeraldEventName>(name: K, listener: Listener<K>): () => void {
    let listeners = this.#listeners.get(name);
    if (listeners === undefined) {
      listeners = new Set();
      this.#listeners.set(name, listeners);
    }
    const stored = listener as unknown as (payload: never, meta: never) => void;
    listeners.add(stored);
    return () => listeners.delete(stored);
  }

  /** Call `listener` when the stream cannot go on (refused, or its ticket could not be had). */
  onError(listener: (error: Error) => void): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  /** Connect (again), resuming after `lastEventId` if there is one. */
  async open(): Promise<void> {
    this.#open = true;
    await this.#connect();
  }

  /** Disconnect for good (until `open()`). */
  close(): void {
    this.#open = false;
    clearTimeout(this.#retry);
    this.#source?.close();
    this.#source = undefined;
  }

  async #connect(): Promise<void> {
    this.#source?.close();
    const query = new URLSearchParams();
    if (this.#options.categories !== undefined) query.set('categories', this.#options.categories.join(','));
    if (this.#lastEventId !== undefined) query.set('last_event_id', this.#lastEventId);
    if (this.#options.ticket !== undefined) {
      try {
        query.set('ticket', await this.#options.ticket());
      } catch (error) {
        this.#fail(error instanceof Error ? error : new Error(String(error)));
        return;
      }
    }
    if (!this.#open) return; // closed while the ticket was on its way
    const url = `${this.#options.baseUrl.replace(/\/+$/, '')}${STREAM_PATH}${query.size ? `?${query}` : ''}`;
    const make: EventSourceFactory =
      this.#options.eventSource ?? ((address, init) => new EventSource(address, init) as unknown as EventSourceLike);
    const source = make(url, { withCredentials: this.#options.ticket === undefined });
    this.#source = source;
    for (const name of EVENT_NAMES) {
      source.addEventListener(name, (event) => this.#receive(name, event));
    }
    source.onerror = () => this.#lost(source);
  }

  #receive(name: HeraldEventName, event: MessageEvent<string>): void {
    const id = RESUMABLE[name] && event.lastEventId ? event.lastEventId : undefined;
    if (id !== undefined) this.#lastEventId = id;
    const payload = JSON.parse(event.data) as HeraldEventMap[typeof name];
    for (const listener of this.#listeners.get(name) ?? []) {
      (listener as Listener<typeof name>)(payload, { name, id });
    }
    if (name === 'stream.end') {
      const { reason } = payload as HeraldEventMap['stream.end'];
      if (reason !== 'shutdown') this.close(); // the credential is no good any more: do not reconnect with it
    }
  }

  #lost(source: EventSourceLike): void {
    if (!this.#open || source !== this.#source) return;
    if (this.#options.ticket !== undefined) {
      // A ticket serves one connection: EventSource's own retry would present it again and be refused.
      source.close();
      this.#retry = setTimeout(() => void this.#connect(), this.#options.retryMs ?? 3000);
    } else if (source.readyState === CLOSED) {
      this.#fail(new Error('the stream was refused (is the stream cookie set and valid?)'));
    } // otherwise EventSource reconnects by itself, sending the last id as Last-Event-ID
  }

  #fail(error: Error): void {
    this.close();
    for (const listener of this.#errorListeners) listener(error);
  }
}
