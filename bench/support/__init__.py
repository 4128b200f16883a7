"""What several bench scripts share (not a bench itself: `make bench` runs bench/*.py only)."""
