"""Compiled implementations (Cython); the extension modules land here when built."""
