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
  onopen: ((event: Event) => unknown) | null;
  onerror: ((event: Event) => unknown) | null;
  addEventListener(type: string, listener: (event: MessageEvent<string>) => void): void;
  close(): void;
}

export type EventSourceFactory = (url: string, init: { withCredentials: boolean }) => EventSourceLike;

/** A group written as `<kind>:<id>`, such as `report:<uuid>`: what `?watch=` takes and `stream.unwatched` names. */
export type GroupName = `${HeraldEventMap['stream.unwatched']['kind']}:${string}`;

export interface HeraldStreamOptions {
  /** Where Herald is: the AsyncAPI document's server, e.g. `https://events.example.com` (a path prefix is kept). */
  baseUrl: string;
  /** Only events of these categories (all when absent). */
  categories?: readonly string[];
  /**
   * Groups whose events the stream receives too (`?watch=`), such as a report shared with the user
   * (`report:<uuid>`; its `GET /api/v1/reports/{id}` gives the `position` of a stream that watches it). One
   * the user may not see is refused (404) and retried like any refused connection; one the user stops being
   * allowed to see ends with `stream.unwatched`, after which the wrapper connects without it.
   */
  watch?: readonly GroupName[];
  /**
   * Resume after this position: the `position` of `GET /api/v1/reports` (null there when the server keeps
   * no history: the stream then starts now), or an id kept from an earlier page.
   */
  lastEventId?: string | null;
  /**
   * A fresh single-use ticket (`POST /api/v1/events/tickets`) for each connection. Without it the browser's
   * stream cookie (`POST /api/v1/events/cookie`) authenticates, and EventSource reconnects on its own.
   */
  ticket?: () => Promise<string>;
  /** How to make an EventSource (default: the global one, as in browsers). */
  eventSource?: EventSourceFactory;
  /** First wait before a reconnect this wrapper makes itself, in ms (default 1000); it doubles up to 30 s. */
  retryMs?: number;
}

const CLOSED = 2;
const MAX_RETRY_MS = 30_000;

/**
 * The authenticated user's events, typed by name.
 *
 * `stream.reset` means events may have been missed: reload the state it concerns. `stream.end` with
 * `credential_expired` or `session_revoked` closes this stream (authenticate again, then `open()`); with
 * `shutdown` the stream reconnects, resuming after the last id received. `stream.unwatched` removes its group
 * from `watching`: the next connection leaves it out. When a connection fails (a ticket that cannot be had, a
 * refused or lost stream), `onError` listeners hear of it and the wrapper tries again, waiting twice as long
 * each time, until a connection opens or `close()` is called.
 */
export class HeraldStream {
  readonly #options: HeraldStreamOptions;
  readonly #listeners = new Map<HeraldEventName, Set<(payload: never, meta: never) => void>>();
  readonly #errorListeners = new Set<(error: Error) => void>();
  #source: EventSourceLike | undefined;
  /** The groups the open connection's URL names: once they are not `#watching`, it must not reconnect by itself. */
  #sourceWatches = '';
  #lastEventId: string | undefined;
  #watching: Set<GroupName>;
  #open = false;
  /** Counts connection attempts: an attempt overtaken by a later one (or by close) does nothing more. */
  #attempt = 0;
  #failures = 0;
  #endedByServer = false;
  #retry: ReturnType<typeof setTimeout> | undefined;

  constructor(options: HeraldStreamOptions) {
    this.#options = options;
    this.#lastEventId = options.lastEventId ?? undefined;
    this.#watching = new Set(options.watch ?? []);
  }

  /** The groups the stream watches: those of the `watch` option that no `stream.unwatched` has named since. */
  get watching(): readonly GroupName[] {
    return [...this.#watching];
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

  /** Call `listener` each time a connection fails (the wrapper tries again unless closed). */
  onError(listener: (error: Error) => void): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  /** Connect (again), resuming after `lastEventId` if there is one. */
  async open(): Promise<void> {
    this.#open = true;
    this.#failures = 0;
    await this.#connect();
  }

  /** Disconnect for good (until `open()`). */
  close(): void {
    this.#open = false;
    this.#attempt += 1;
    this.#stop();
  }

  #stop(): void {
    clearTimeout(this.#retry);
    this.#source?.close();
    this.#source = undefined;
  }

  async #connect(): Promise<void> {
    const attempt = ++this.#attempt;
    this.#stop();
    const query = new URLSearchParams();
    if (this.#options.categories !== undefined) query.set('categories', this.#options.categories.join(','));
    if (this.#lastEventId !== undefined) query.set('last_event_id', this.#lastEventId);
    for (const group of this.#watching) query.append('watch', group);
    if (this.#options.ticket !== undefined) {
      let ticket: string;
      try {
        ticket = await this.#options.ticket();
      } catch (error) {
        if (attempt === this.#attempt) this.#retryLater(new Error(`no stream ticket: ${String(error)}`));
        return;
      }
      query.set('ticket', ticket);
    }
    if (!this.#open || attempt !== this.#attempt) return; // closed, or opened again, while the ticket came
    const search = query.toString();
    const url = `${this.#options.baseUrl.replace(/\/+$/, '')}${STREAM_PATH}${search ? `?${search}` : ''}`;
    const make: EventSourceFactory =
      this.#options.eventSource ?? ((address, init) => new EventSource(address, init) as unknown as EventSourceLike);
    const source = make(url, { withCredentials: this.#options.ticket === undefined });
    this.#source = source;
    this.#sourceWatches = [...this.#watching].join(' ');
    for (const name of EVENT_NAMES) {
      source.addEventListener(name, (event) => {
        if (source === this.#source) this.#receive(name, event);
      });
    }
    source.onopen = () => {
      if (source === this.#source) this.#failures = 0;
    };
    source.onerror = () => {
      if (source === this.#source) this.#lost(source);
    };
  }

  #receive(name: HeraldEventName, event: MessageEvent<string>): void {
    const id = RESUMABLE[name] && event.lastEventId ? event.lastEventId : undefined;
    if (id !== undefined) this.#lastEventId = id;
    const payload = JSON.parse(event.data) as HeraldEventMap[typeof name];
    if (name === 'stream.unwatched') {
      const { kind, id: group } = payload as HeraldEventMap['stream.unwatched'];
      this.#watching.delete(`${kind}:${group}`); // watching it again would be refused (404)
    }
    try {
      for (const listener of this.#listeners.get(name) ?? []) {
        try {
          (listener as Listener<typeof name>)(payload, { name, id });
        } catch (error) {
          queueMicrotask(() => {
            throw error; // reported like any uncaught error, without keeping the other listeners from the event
          });
        }
      }
    } finally {
      if (name === 'stream.end') {
        if ((payload as HeraldEventMap['stream.end']).reason === 'shutdown') this.#endedByServer = true;
        else this.close(); // the credential is no good any more: do not reconnect with it
      }
    }
  }

  #lost(source: EventSourceLike): void {
    const ended = this.#endedByServer; // after `stream.end` with `shutdown`: expected, not a failure
    this.#endedByServer = false;
    if (this.#options.ticket !== undefined) {
      // A ticket serves one connection: EventSource's own retry would present it again and be refused.
      this.#retryLater(ended ? undefined : new Error('the stream was lost; reconnecting with a new ticket'));
    } else if (source.readyState === CLOSED) {
      // EventSource gave up: the server refused the stream, or a proxy answered for it.
      this.#retryLater(new Error('the stream was refused; is the stream cookie set and valid?'));
    } else if (this.#sourceWatches !== [...this.#watching].join(' ')) {
      // EventSource would reconnect to its own URL, with a group the user may no longer watch: connect anew.
      this.#retryLater();
    } // otherwise EventSource reconnects by itself, sending the last id as Last-Event-ID
  }

  /** Connect again: after `retryMs` when the server ended the stream, later after each failure in a row. */
  #retryLater(failure?: Error): void {
    this.#stop();
    const first = this.#options.retryMs ?? 1000;
    const wait = failure === undefined ? first : Math.min(MAX_RETRY_MS, first * 2 ** this.#failures);
    if (failure !== undefined) {
      this.#failures += 1;
      for (const listener of this.#errorListeners) listener(failure);
    }
    if (this.#open) this.#retry = setTimeout(() => void this.#connect(), wait);
  }
}
