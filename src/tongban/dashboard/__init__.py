"""领导驾驶舱: the figures a leader asks for first, on one page."""
