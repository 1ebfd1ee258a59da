// Generated from Herald's AsyncAPI document by tools/generate.mjs (Modelina 5.10.1): do not edit.

/**
 * A user's first stream in the group opened (to the group's members).
 */
interface PresenceJoinedPayload {
  'group_kind': string;
  'group_id': string;
  'user_id': string;
  'version': number;
  /**
   * UUIDv7 of this SSE event.
   */
  'event_id': string;
  /**
   * When the event was published.
   */
  'occurred_at': string;
}
export type { PresenceJoinedPayload };
