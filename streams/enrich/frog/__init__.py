"""Dutch named-entity recognition with Debian's Frog, run as supervised socket servers."""
