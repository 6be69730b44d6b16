"""Administrators' views across the whole service."""
