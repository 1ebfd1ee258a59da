// Generated from Herald's AsyncAPI document by tools/generate.mjs (Modelina 5.10.1): do not edit.

/**
 * An administrator's message to every user.
 */
interface SystemAnnouncementPayload {
  'message': string;
  'author_id': string;
  /**
   * UUIDv7 of this SSE event.
   */
  'event_id': string;
  /**
   * When the event was published.
   */
  'occurred_at': string;
}
export type { SystemAnnouncementPayload };
