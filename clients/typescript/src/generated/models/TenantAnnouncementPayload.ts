// Generated from Herald's AsyncAPI document by tools/generate.mjs (Modelina 5.10.1): do not edit.

/**
 * An administrator's message to every member of their tenant.
 */
interface TenantAnnouncementPayload {
  'message': string;
  'author_id': string;
  'tenant': string;
  /**
   * UUIDv7 of this SSE event.
   */
  'event_id': string;
  /**
   * When the event was published.
   */
  'occurred_at': string;
}
export type { TenantAnnouncementPayload };
