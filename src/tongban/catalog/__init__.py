"""事项库: departments, halls, data elements, license types and matters; guides and search."""
