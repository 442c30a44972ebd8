"""A job-progress API: start jobs, and follow each one live over server-sent events."""
