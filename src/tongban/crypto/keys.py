"""The deployment's keyring: its KEK from the settings, its data keys from the database."""

from __future__ import annotations

from tongban.crypto.primitives import Aead
from tongban.crypto.service import Kek, Keyring, KeyUnavailable, read_kek_file
from tongban.settings import Settings, demo_kek_path


def configured_kek(settings: Settings) -> Kek:
    """TONGBAN_KEK, else TONGBAN_KEK_FILE, else the demo KEK beside an SQLite database."""
    if settings.kek is not None:
        return Kek.from_base64(settings.kek.get_secret_value())
    path = settings.kek_file or demo_kek_path(settings.database_url)
    if path is not None and path.exists():
        return read_kek_file(path)
    raise KeyUnavailable(
        "no key-encryption key: set TONGBAN_KEK or TONGBAN_KEK_FILE (`tongban demo` makes one)"
    )


def keyring_for(settings: Settings) -> Keyring:
    return Keyring(configured_kek(settings), Aead(settings.field_cipher))
