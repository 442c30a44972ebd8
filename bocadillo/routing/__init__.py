"""Declaring routes and finding them again."""
