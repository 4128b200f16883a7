"""办件: applications, from the form to the result."""
