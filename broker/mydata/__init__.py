"""MyData: people use their own data (download it) and decide on it (grant and revoke consent)."""
