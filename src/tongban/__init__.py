"""通办 Tongban: one platform on which a city runs its government services."""

__version__ = "0.1.0"
