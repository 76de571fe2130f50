"""Loading, checking, editing and publishing campaign content."""
