"""National cryptography behind small interfaces: SM3 digests, SM4-GCM / AES-256-GCM field
encryption under data keys wrapped by a key-encryption key, blind indexes for look-ups."""
