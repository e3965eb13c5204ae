"""``retrieval serve``: an HTTP API and a search page over saved text indexes.

``app`` builds the FastAPI application; ``live`` follows rebuilt index
directories; ``routes`` holds one router per concern; ``guard`` checks URLs
and the API key; ``errors`` turns every failure into ``{"error": "..."}``.
"""
