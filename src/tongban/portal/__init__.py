"""Server-rendered portal: shared layout, design system, rendering helpers."""
