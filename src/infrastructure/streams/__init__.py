"""Local fan-out: the open streams of this process and their bounded inboxes."""
