"""HTTP input before any ORM: the mount's guard, request bodies and their
limits, credentials and context headers checked for shape."""
