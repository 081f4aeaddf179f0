"""Ramparts: defense in depth for AI coding agents."""
