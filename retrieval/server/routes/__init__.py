"""One router per concern: ``search`` (queries and documents), ``status`` (info and health), ``page`` (HTML),
``docs``."""
