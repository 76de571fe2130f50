"""Referrals: the form's outcome, statuses and the delivery policy."""
