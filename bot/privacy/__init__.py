"""The promises made about people's data, kept by code: retention (and erasure)."""
