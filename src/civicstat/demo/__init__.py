"""Riverton, the demo city: seeded data (:mod:`.generate`) and its workspace (:mod:`.riverton`)."""
