"""Notifications: a transactional outbox, channels (SMS, Telegram, e-mail, in-app), follows."""
