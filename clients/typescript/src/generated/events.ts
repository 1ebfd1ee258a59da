// Generated from Herald's AsyncAPI document by tools/generate.mjs (Modelina 5.10.1): do not edit.

import type { ReportRequestedPayload } from './models/ReportRequestedPayload';
import type { ReportProgressPayload } from './models/ReportProgressPayload';
import type { ReportCompletedPayload } from './models/ReportCompletedPayload';
import type { ReportFailedPayload } from './models/ReportFailedPayload';
import type { SystemAnnouncementPayload } from './models/SystemAnnouncementPayload';
import type { TenantAnnouncementPayload } from './models/TenantAnnouncementPayload';
import type { PresenceJoinedPayload } from './models/PresenceJoinedPayload';
import type { PresenceLeftPayload } from './models/PresenceLeftPayload';
import type { StreamResetPayload } from './models/StreamResetPayload';
import type { StreamEndPayload } from './models/StreamEndPayload';
import type { StreamUnwatchedPayload } from './models/StreamUnwatchedPayload';

export type { ReportRequestedPayload, ReportProgressPayload, ReportCompletedPayload, ReportFailedPayload, SystemAnnouncementPayload, TenantAnnouncementPayload, PresenceJoinedPayload, PresenceLeftPayload, StreamResetPayload, StreamEndPayload, StreamUnwatchedPayload };

/** The path of the stream, after the server's address. */
export const STREAM_PATH = "/api/v1/events";

/** Every event the stream sends, by its SSE `event:` name, with the type of its `data:` payload. */
export interface HeraldEventMap {
  /** A report was accepted and is queued (to its owner and its watchers). */
  "report.requested": ReportRequestedPayload;
  /** A report finished another generation step (to its owner and its watchers). */
  "report.progress": ReportProgressPayload;
  /** A report is ready to download (to its owner and its watchers). */
  "report.completed": ReportCompletedPayload;
  /** Generation of a report failed (to its owner and its watchers). */
  "report.failed": ReportFailedPayload;
  /** An administrator's message to every user. */
  "system.announcement": SystemAnnouncementPayload;
  /** An administrator's message to every member of their tenant. */
  "tenant.announcement": TenantAnnouncementPayload;
  /** A user's first stream in the group opened (to the group's members). */
  "presence.joined": PresenceJoinedPayload;
  /** A user's last stream in the group closed, and stayed closed for the grace (to the group's members). */
  "presence.left": PresenceLeftPayload;
  /** The client may have missed events and should reload its state. */
  "stream.reset": StreamResetPayload;
  /** The server is ending the stream. */
  "stream.end": StreamEndPayload;
  /** The stream receives nothing more of a group it watched. */
  "stream.unwatched": StreamUnwatchedPayload;
}

/** The name of an event the stream sends. */
export type HeraldEventName = keyof HeraldEventMap;

/** Every event name, in the order of the document. */
export const EVENT_NAMES: readonly HeraldEventName[] = ["report.requested","report.progress","report.completed","report.failed","system.announcement","tenant.announcement","presence.joined","presence.left","stream.reset","stream.end","stream.unwatched"];

/** Whether an event carries an `id:` to resume from (`stream.end` does not: the last id stays). */
export const RESUMABLE: Readonly<Record<HeraldEventName, boolean>> = {
  "report.requested": true,
  "report.progress": true,
  "report.completed": true,
  "report.failed": true,
  "system.announcement": true,
  "tenant.announcement": true,
  "presence.joined": true,
  "presence.left": true,
  "stream.reset": true,
  "stream.end": false,
  "stream.unwatched": true,
};

/** Who an event is for (its category, and the payload fields naming its user and group): how a tab that
 * shares another tab's stream keeps only the events its own filter would have let through. None for the
 * stream's own signals. */
export interface Audience {
  category: string;
  everyone: boolean;
  user: string | null;
  group: { kind: string | null; kindField: string | null; field: string } | null;
}

export const AUDIENCES: Readonly<Record<HeraldEventName, Audience | null>> = {
  "report.requested": {"category":"reports","everyone":false,"user":"owner_id","group":{"kind":"report","kindField":null,"field":"report_id"}},
  "report.progress": {"category":"reports","everyone":false,"user":"owner_id","group":{"kind":"report","kindField":null,"field":"report_id"}},
  "report.completed": {"category":"reports","everyone":false,"user":"owner_id","group":{"kind":"report","kindField":null,"field":"report_id"}},
  "report.failed": {"category":"reports","everyone":false,"user":"owner_id","group":{"kind":"report","kindField":null,"field":"report_id"}},
  "system.announcement": {"category":"system","everyone":true,"user":null,"group":null},
  "tenant.announcement": {"category":"system","everyone":false,"user":null,"group":{"kind":"tenant","kindField":null,"field":"tenant"}},
  "presence.joined": {"category":"presence","everyone":false,"user":null,"group":{"kind":null,"kindField":"group_kind","field":"group_id"}},
  "presence.left": {"category":"presence","everyone":false,"user":null,"group":{"kind":null,"kindField":"group_kind","field":"group_id"}},
  "stream.reset": null,
  "stream.end": null,
  "stream.unwatched": null,
};
