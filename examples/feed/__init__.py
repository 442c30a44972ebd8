"""A live feed: publish posts, and follow them over server-sent events from any worker."""
