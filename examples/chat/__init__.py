"""A chat room over WebSockets: typed messages, rooms by path, a member per connection."""
