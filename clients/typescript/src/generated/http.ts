// Generated from Herald's OpenAPI document by tools/generate-http.mjs (openapi-typescript 7.13.0): do not edit.
export interface paths {
    "/api/v1/admin/events/{event_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** What happened to one event (admin) */
        get: operations["ApiV1AdminEventsEventIdShow"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/announcements": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Publish an announcement to every user, or to your tenant (admin) */
        post: operations["ApiV1AnnouncementsPublish"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/dev/tokens": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Issue a development token */
        post: operations["ApiV1DevTokensIssue"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Open the SSE stream of the authenticated user */
        get: operations["ApiV1EventsStream"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events/cookie": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Set the HttpOnly stream cookie for EventSource */
        post: operations["ApiV1EventsCookieSetCookie"];
        /** Clear the stream cookie */
        delete: operations["ApiV1EventsCookieClearCookie"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events/tickets": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Issue a single-use stream ticket for EventSource */
        post: operations["ApiV1EventsTicketsIssueTicket"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events/types": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The SSE event types this service emits */
        get: operations["ApiV1EventsTypesEventTypes"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/presence/{kind}/{group_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Who is connected to a group */
        get: operations["ApiV1PresenceKindGroupIdPresence"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/reports": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The caller's reports, a page at a time, and where to stream on from */
        get: operations["ApiV1ReportsListReports"];
        put?: never;
        /** Request a report */
        post: operations["ApiV1ReportsRequestReport"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/reports/{report_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A report of the caller's or shared with them, and where to stream on from */
        get: operations["ApiV1ReportsReportIdGetReport"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/reports/{report_id}/shares": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Who a report is shared with */
        get: operations["ApiV1ReportsReportIdSharesListReportShares"];
        put?: never;
        /** Share a report with a user */
        post: operations["ApiV1ReportsReportIdSharesShareReport"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/reports/{report_id}/shares/{user_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Stop sharing a report with a user */
        delete: operations["ApiV1ReportsReportIdSharesUserIdUnshareReport"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/sessions/{session_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Revoke a session and end its streams */
        delete: operations["ApiV1SessionsSessionIdRevoke"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness and readiness */
        get: operations["HealthHealth"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/schema/asyncapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** AsyncAPI 3 document of the event stream */
        get: operations["SchemaAsyncapiJsonAsyncapi"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /** AnnouncementAccepted */
        AnnouncementAccepted: {
            /** Format: uuid */
            event_id: string;
            /** @description The `event_id` of each stream event the announcement recorded: once the stream has delivered them, it reflects the announcement (read-your-writes). */
            event_ids: string[];
        };
        /** AnnouncementRequest */
        AnnouncementRequest: {
            message: string;
            /** @enum {null|string} */
            scope?: "tenant" | null;
        };
        /** AudienceView */
        AudienceView: {
            broadcast: boolean;
            category: string;
            /** Format: uuid */
            event_id: string;
            event_type: string;
            group: string | null;
            logs: components["schemas"]["LogPlaceView"][];
            users: string[];
        };
        /** DeliveryView */
        DeliveryView: {
            category: string;
            event_type: string;
            /** Format: date-time */
            first_at: string;
            /** Format: date-time */
            last_at: string;
            process: string;
            queued: number;
            skipped: {
                [key: string]: number;
            };
            skipped_streams: components["schemas"]["SkippedStreamView"][];
            written: number;
        };
        /** EventDiagnosisView */
        EventDiagnosisView: {
            audience: components["schemas"]["AudienceView"][];
            deliveries: components["schemas"]["DeliveryView"][];
            /** Format: uuid */
            event_id: string;
            outbox: components["schemas"]["OutboxView"] | null;
            window_seconds: number;
        };
        /** LogPlaceView */
        LogPlaceView: {
            log: string;
            note: string;
            position: string | null;
        };
        /** OutboxView */
        OutboxView: {
            attempts: number;
            /** Format: date-time */
            committed_at: string;
            domain_event: string;
            failure: string | null;
            first_tried_at: string | null;
            published_at: string | null;
        };
        /** PresenceView */
        PresenceView: {
            count: number;
            members?: components["schemas"]["PresentMemberView"][];
            next?: string | null;
            version?: number;
        };
        /** PresentMemberView */
        PresentMemberView: {
            /** Format: date-time */
            since: string;
            streams: number;
            /** Format: uuid */
            user_id: string;
        };
        /** Problem */
        Problem: {
            detail?: string;
            extra?: {
                [key: string]: unknown;
            }[] | {
                [key: string]: unknown;
            };
            status: number;
            title: string;
            /** @default about:blank */
            type: string;
        };
        /** ReportAccepted */
        ReportAccepted: {
            /** @description The `event_id` of each stream event this request recorded (its `report.requested`): once the stream has delivered them, it reflects the request (read-your-writes). */
            event_ids: string[];
            /** Format: uuid */
            report_id: string;
        };
        /** ReportList */
        ReportList: {
            next: string | null;
            position: string | null;
            reports: components["schemas"]["ReportView"][];
        };
        /** ReportRequest */
        ReportRequest: {
            title: string;
        };
        /** ReportShare */
        ReportShare: {
            /** Format: uuid */
            report_id: string;
            /** Format: uuid */
            user_id: string;
        };
        /** ReportShares */
        ReportShares: {
            /** Format: uuid */
            report_id: string;
            user_ids: string[];
        };
        /** ReportSnapshot */
        ReportSnapshot: {
            position: string | null;
            report: components["schemas"]["ReportView"];
        };
        /** ReportView */
        ReportView: {
            download_url: string | null;
            failure: string | null;
            percent: number;
            /** Format: uuid */
            report_id: string;
            /** Format: date-time */
            requested_at: string;
            /** @enum {string} */
            status: "requested" | "in_progress" | "completed" | "failed";
            step: string | null;
            title: string;
            /** Format: date-time */
            updated_at: string;
            version: number;
        };
        /** ShareRequest */
        ShareRequest: {
            /** Format: uuid */
            user_id: string;
        };
        /** SkippedStreamView */
        SkippedStreamView: {
            reason: string;
            user_id: string;
        };
        /** TicketResponse */
        TicketResponse: {
            expires_in: number;
            ticket: string;
        };
        /** TokenRequest */
        TokenRequest: {
            roles?: string[];
            /** @description the organisation: 1 to 64 characters of letters, digits, '_', '.' and '-' */
            tenant?: string | null;
            /** Format: uuid */
            user_id: string;
        };
        /** TokenResponse */
        TokenResponse: {
            access_token: string;
            /** @default bearer */
            token_type: string;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    ApiV1AdminEventsEventIdShow: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the event's id */
                event_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Request fulfilled, document follows */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["EventDiagnosisView"];
                };
            };
            /** @description a parameter is malformed; the request is not one the service can act on (the detail says why) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description a valid credential is required */
            401: {
                headers: {
                    /** @description The scheme to authenticate with. */
                    "WWW-Authenticate"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the caller may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description nothing is at this path (a path parameter of the wrong form); no such resource, or one the caller may not see */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request was not received in time (HERALD_HTTP_REQUEST_SECONDS) */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the resource's state does not allow it now */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description too many requests: retry later (after Retry-After seconds when given) */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again. */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request line and headers are larger than the service takes (HERALD_HTTP_MAX_HEADER_BYTES) */
            431: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the credential cannot be checked right now (keys or revocations); the service cannot do it right now: retry after Retry-After seconds */
            503: {
                headers: {
                    /** @description Seconds to wait before trying again. */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ApiV1AnnouncementsPublish: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["AnnouncementRequest"];
            };
        };
        responses: {
            /** @description Request accepted, processing continues off-line */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AnnouncementAccepted"];
                };
            };
            /** @description the body is not valid JSON of the request's schema */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description a valid credential is required */
            401: {
                headers: {
                    /** @description The scheme to authenticate with. */
                    "WWW-Authenticate"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Request forbidden -- authorization will not help */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request was not received in time (HERALD_HTTP_REQUEST_SECONDS) */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the resource's state does not allow it now */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is larger than the service takes (HERALD_HTTP_MAX_BODY_BYTES) */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not sent as JSON in UTF-8 (Content-Type: application/json) */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request line and headers are larger than the service takes (HERALD_HTTP_MAX_HEADER_BYTES) */
            431: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the credential cannot be checked right now (keys or revocations); the service cannot do it right now: retry after Retry-After seconds */
            503: {
                headers: {
                    /** @description Seconds to wait before trying again. */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ApiV1DevTokensIssue: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TokenRequest"];
            };
        };
        responses: {
            /** @description Request fulfilled, document follows */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TokenResponse"];
                };
            };
            /** @description the body is not valid JSON of the request's schema */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request was not received in time (HERALD_HTTP_REQUEST_SECONDS) */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is larger than the service takes (HERALD_HTTP_MAX_BODY_BYTES) */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not sent as JSON in UTF-8 (Content-Type: application/json) */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request line and headers are larger than the service takes (HERALD_HTTP_MAX_HEADER_BYTES) */
            431: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ApiV1EventsStream: {
        parameters: {
            query?: {
                categories?: string | null;
                last_event_id?: string | null;
                ticket?: string | null;
                /** @description A group to receive the events of, as <kind>:<id> (report:<uuid>); repeatable, up to HERALD_SSE_MAX_WATCHES. One the caller may not see answers 404. */
                watch?: string[] | null;
            };
            header?: {
                "last-event-id"?: string | null;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The stream: a retry: hint, then SSE messages (id:, event:, one JSON data: line) and ': ping' comments, until either side closes; a stream.end event says why the service ends it. Events and signals: /schema/asyncapi.json. */
            200: {
                headers: {
                    "Cache-Control"?: "no-cache";
                    "X-Accel-Buffering"?: "no";
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
                };
            };
            /** @description a parameter is malformed; the request is not one the service can act on (the detail says why) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description a valid credential is required */
            401: {
                headers: {
                    /** @description The scheme to authenticate with. */
                    "WWW-Authenticate"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description no such resource, or one the caller may not see */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request was not received in time (HERALD_HTTP_REQUEST_SECONDS) */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the query string is too long */
            414: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description too many requests: retry later (after Retry-After seconds when given) */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again. */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request line and headers are larger than the service takes (HERALD_HTTP_MAX_HEADER_BYTES) */
            431: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the service cannot do it right now: retry after Retry-After seconds */
            503: {
                headers: {
                    /** @description Seconds to wait before trying again. */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ApiV1EventsCookieSetCookie: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Request fulfilled, nothing follows */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description a valid credential is required */
            401: {
                headers: {
                    /** @description The scheme to authenticate with. */
                    "WWW-Authenticate"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request was not received in time (HERALD_HTTP_REQUEST_SECONDS) */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the resource's state does not allow it now */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request line and headers are larger than the service takes (HERALD_HTTP_MAX_HEADER_BYTES) */
            431: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the credential cannot be checked right now (keys or revocations); the service cannot do it right now: retry after Retry-After seconds */
            503: {
                headers: {
                    /** @description Seconds to wait before trying again. */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ApiV1EventsCookieClearCookie: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Request fulfilled, nothing follows */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description the request was not received in time (HERALD_HTTP_REQUEST_SECONDS) */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request line and headers are larger than the service takes (HERALD_HTTP_MAX_HEADER_BYTES) */
            431: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ApiV1EventsTicketsIssueTicket: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Document created, URL follows */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TicketResponse"];
                };
            };
            /** @description a valid credential is required */
            401: {
                headers: {
                    /** @description The scheme to authenticate with. */
                    "WWW-Authenticate"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request was not received in time (HERALD_HTTP_REQUEST_SECONDS) */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the resource's state does not allow it now */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description too many requests: retry later (after Retry-After seconds when given) */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again. */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request line and headers are larger than the service takes (HERALD_HTTP_MAX_HEADER_BYTES) */
            431: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the credential cannot be checked right now (keys or revocations); the service cannot do it right now: retry after Retry-After seconds */
            503: {
                headers: {
                    /** @description Seconds to wait before trying again. */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ApiV1EventsTypesEventTypes: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Request fulfilled, document follows */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        [key: string]: unknown;
                    }[];
                };
            };
            /** @description the request was not received in time (HERALD_HTTP_REQUEST_SECONDS) */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request line and headers are larger than the service takes (HERALD_HTTP_MAX_HEADER_BYTES) */
            431: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ApiV1PresenceKindGroupIdPresence: {
        parameters: {
            query?: {
                /** @description the `next` of the previous page */
                after?: string | null;
                /** @description members in the page */
                limit?: number;
                /** @description false: the count alone, in constant time */
                members?: boolean;
            };
            header?: never;
            path: {
                /** @description the group's id (a report's UUID, a tenant) */
                group_id: string;
                /** @description the group's kind: report, tenant */
                kind: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Request fulfilled, document follows */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PresenceView"];
                };
            };
            /** @description a parameter is malformed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description a valid credential is required */
            401: {
                headers: {
                    /** @description The scheme to authenticate with. */
                    "WWW-Authenticate"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description nothing is at this path (a path parameter of the wrong form); no such resource, or one the caller may not see */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request was not received in time (HERALD_HTTP_REQUEST_SECONDS) */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request line and headers are larger than the service takes (HERALD_HTTP_MAX_HEADER_BYTES) */
            431: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the credential cannot be checked right now (keys or revocations); the service cannot do it right now: retry after Retry-After seconds */
            503: {
                headers: {
                    /** @description Seconds to wait before trying again. */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ApiV1ReportsListReports: {
        parameters: {
            query?: {
                /** @description the `next` of the previous page */
                cursor?: string | null;
                /** @description reports in the page */
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Request fulfilled, document follows */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ReportList"];
                };
            };
            /** @description a parameter is malformed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description a valid credential is required */
            401: {
                headers: {
                    /** @description The scheme to authenticate with. */
                    "WWW-Authenticate"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Nothing matches the given URI */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request was not received in time (HERALD_HTTP_REQUEST_SECONDS) */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request line and headers are larger than the service takes (HERALD_HTTP_MAX_HEADER_BYTES) */
            431: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the credential cannot be checked right now (keys or revocations); the service cannot do it right now: retry after Retry-After seconds */
            503: {
                headers: {
                    /** @description Seconds to wait before trying again. */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ApiV1ReportsRequestReport: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ReportRequest"];
            };
        };
        responses: {
            /** @description Request accepted, processing continues off-line */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ReportAccepted"];
                };
            };
            /** @description the body is not valid JSON of the request's schema */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description a valid credential is required */
            401: {
                headers: {
                    /** @description The scheme to authenticate with. */
                    "WWW-Authenticate"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request was not received in time (HERALD_HTTP_REQUEST_SECONDS) */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the resource's state does not allow it now */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is larger than the service takes (HERALD_HTTP_MAX_BODY_BYTES) */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not sent as JSON in UTF-8 (Content-Type: application/json) */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description too many requests: retry later (after Retry-After seconds when given) */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again. */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request line and headers are larger than the service takes (HERALD_HTTP_MAX_HEADER_BYTES) */
            431: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the credential cannot be checked right now (keys or revocations); the service cannot do it right now: retry after Retry-After seconds */
            503: {
                headers: {
                    /** @description Seconds to wait before trying again. */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ApiV1ReportsReportIdGetReport: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                report_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Request fulfilled, document follows */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ReportSnapshot"];
                };
            };
            /** @description a parameter is malformed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description a valid credential is required */
            401: {
                headers: {
                    /** @description The scheme to authenticate with. */
                    "WWW-Authenticate"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description nothing is at this path (a path parameter of the wrong form) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request was not received in time (HERALD_HTTP_REQUEST_SECONDS) */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request line and headers are larger than the service takes (HERALD_HTTP_MAX_HEADER_BYTES) */
            431: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the credential cannot be checked right now (keys or revocations); the service cannot do it right now: retry after Retry-After seconds */
            503: {
                headers: {
                    /** @description Seconds to wait before trying again. */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ApiV1ReportsReportIdSharesListReportShares: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                report_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Request fulfilled, document follows */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ReportShares"];
                };
            };
            /** @description a parameter is malformed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description a valid credential is required */
            401: {
                headers: {
                    /** @description The scheme to authenticate with. */
                    "WWW-Authenticate"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the caller may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description nothing is at this path (a path parameter of the wrong form); no such resource, or one the caller may not see */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request was not received in time (HERALD_HTTP_REQUEST_SECONDS) */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request line and headers are larger than the service takes (HERALD_HTTP_MAX_HEADER_BYTES) */
            431: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the credential cannot be checked right now (keys or revocations); the service cannot do it right now: retry after Retry-After seconds */
            503: {
                headers: {
                    /** @description Seconds to wait before trying again. */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ApiV1ReportsReportIdSharesShareReport: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                report_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ShareRequest"];
            };
        };
        responses: {
            /** @description The report already was shared with the user */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ReportShare"];
                };
            };
            /** @description Document created, URL follows */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ReportShare"];
                };
            };
            /** @description a parameter is malformed; the body is not valid JSON of the request's schema; the request is not one the service can act on (the detail says why) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description a valid credential is required */
            401: {
                headers: {
                    /** @description The scheme to authenticate with. */
                    "WWW-Authenticate"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the caller may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description nothing is at this path (a path parameter of the wrong form); no such resource, or one the caller may not see */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request was not received in time (HERALD_HTTP_REQUEST_SECONDS) */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the resource's state does not allow it now */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is larger than the service takes (HERALD_HTTP_MAX_BODY_BYTES) */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the body is not sent as JSON in UTF-8 (Content-Type: application/json) */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request line and headers are larger than the service takes (HERALD_HTTP_MAX_HEADER_BYTES) */
            431: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the credential cannot be checked right now (keys or revocations); the service cannot do it right now: retry after Retry-After seconds */
            503: {
                headers: {
                    /** @description Seconds to wait before trying again. */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ApiV1ReportsReportIdSharesUserIdUnshareReport: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                report_id: string;
                user_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Request fulfilled, nothing follows */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description a parameter is malformed; the request is not one the service can act on (the detail says why) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description a valid credential is required */
            401: {
                headers: {
                    /** @description The scheme to authenticate with. */
                    "WWW-Authenticate"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the caller may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description nothing is at this path (a path parameter of the wrong form); no such resource, or one the caller may not see */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request was not received in time (HERALD_HTTP_REQUEST_SECONDS) */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the resource's state does not allow it now */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request line and headers are larger than the service takes (HERALD_HTTP_MAX_HEADER_BYTES) */
            431: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the credential cannot be checked right now (keys or revocations); the service cannot do it right now: retry after Retry-After seconds */
            503: {
                headers: {
                    /** @description Seconds to wait before trying again. */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ApiV1SessionsSessionIdRevoke: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                session_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Request fulfilled, nothing follows */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description a parameter is malformed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description a valid credential is required */
            401: {
                headers: {
                    /** @description The scheme to authenticate with. */
                    "WWW-Authenticate"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the caller may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description nothing is at this path (a path parameter of the wrong form); no such resource, or one the caller may not see */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request was not received in time (HERALD_HTTP_REQUEST_SECONDS) */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the resource's state does not allow it now */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request line and headers are larger than the service takes (HERALD_HTTP_MAX_HEADER_BYTES) */
            431: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the credential cannot be checked right now (keys or revocations); the service cannot do it right now: retry after Retry-After seconds */
            503: {
                headers: {
                    /** @description Seconds to wait before trying again. */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    HealthHealth: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Request fulfilled, document follows */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        [key: string]: unknown;
                    };
                };
            };
            /** @description the request was not received in time (HERALD_HTTP_REQUEST_SECONDS) */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request line and headers are larger than the service takes (HERALD_HTTP_MAX_HEADER_BYTES) */
            431: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Not ready: the broker cannot deliver events */
            503: {
                headers: {
                    /** @description Seconds to wait before trying again. */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        [key: string]: unknown;
                    };
                };
            };
        };
    };
    SchemaAsyncapiJsonAsyncapi: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The AsyncAPI 3 document */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        [key: string]: unknown;
                    };
                };
            };
            /** @description the request was not received in time (HERALD_HTTP_REQUEST_SECONDS) */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request line and headers are larger than the service takes (HERALD_HTTP_MAX_HEADER_BYTES) */
            431: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
}
