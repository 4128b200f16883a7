"""工作日: China's working-day calendar, kept in the database, for deadlines in working days."""
