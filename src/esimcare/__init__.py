"""esimcare: eSIM self-care and lifecycle platform."""

__version__ = "0.1.0"
