"""Generators: each turns a Deployment into ``{relative path: bytes}``."""
