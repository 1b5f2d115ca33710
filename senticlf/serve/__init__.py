"""`senticlf serve`: an HTTP server with dynamic batching, built on runtime/ (no torch)."""
