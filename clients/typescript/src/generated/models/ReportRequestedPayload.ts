// Generated from Herald's AsyncAPI document by tools/generate.mjs (Modelina 5.10.1): do not edit.

/**
 * A report was accepted and is queued (to its owner and its watchers).
 */
interface ReportRequestedPayload {
  'report_id': string;
  'owner_id': string;
  'version': number;
  'title': string;
  /**
   * UUIDv7 of this SSE event.
   */
  'event_id': string;
  /**
   * When the event was published.
   */
  'occurred_at': string;
}
export type { ReportRequestedPayload };
