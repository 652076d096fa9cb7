"""Maths on codes: 2-D maps, how far to trust them, classifier heads."""
