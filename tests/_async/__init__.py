"""Behaviour tests written once, async-first; tests/_sync is generated from them."""
