// Generated from Herald's AsyncAPI document by tools/generate.mjs (Modelina 5.10.1): do not edit.
import type {ReportRequestedPayload} from './ReportRequestedPayload';
import type {ReportProgressPayload} from './ReportProgressPayload';
import type {ReportCompletedPayload} from './ReportCompletedPayload';
import type {ReportFailedPayload} from './ReportFailedPayload';
import type {SystemAnnouncementPayload} from './SystemAnnouncementPayload';
import type {TenantAnnouncementPayload} from './TenantAnnouncementPayload';
import type {PresenceJoinedPayload} from './PresenceJoinedPayload';
import type {PresenceLeftPayload} from './PresenceLeftPayload';
import type {StreamResetPayload} from './StreamResetPayload';
import type {StreamEndPayload} from './StreamEndPayload';
import type {StreamUnwatchedPayload} from './StreamUnwatchedPayload';
type Events = ReportRequestedPayload | ReportProgressPayload | ReportCompletedPayload | ReportFailedPayload | SystemAnnouncementPayload | TenantAnnouncementPayload | PresenceJoinedPayload | PresenceLeftPayload | StreamResetPayload | StreamEndPayload | StreamUnwatchedPayload;
export type { Events };
