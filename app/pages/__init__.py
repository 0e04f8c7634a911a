"""Read-only HTML views for people: the incident page."""
