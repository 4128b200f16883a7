"""Small helpers shared by every feature module."""
