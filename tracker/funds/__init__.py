"""Funds in place (实际到位资金) recorded over time, per project."""
