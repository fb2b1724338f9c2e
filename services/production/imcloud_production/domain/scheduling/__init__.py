"""Finite-capacity scheduling: operations on capable resources inside their calendars."""
