// Generated from Herald's AsyncAPI document by tools/generate.mjs (Modelina 5.10.1): do not edit.

type EndNotice = "credential_expired" | "session_revoked" | "shutdown";
export type { EndNotice };
