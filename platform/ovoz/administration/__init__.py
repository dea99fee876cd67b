"""Administration: what national administrators change in the browser instead of litestar.toml."""
