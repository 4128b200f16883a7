"""Notifications: a transactional outbox, an in-app inbox, and an SMS channel."""
