"""Notifications: an outbox written in the same transaction as what causes a message,
delivered by `registry worker` (email over SMTP, a mail folder without SMTP, a seam for
SMS), and listed in the app on every role's home page."""
