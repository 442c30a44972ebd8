"""Channels: typed publish/subscribe, in memory or across workers through Redis."""
