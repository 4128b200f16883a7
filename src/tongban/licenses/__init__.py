"""电子证照库: the electronic license registry."""
