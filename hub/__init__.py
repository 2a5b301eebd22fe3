"""hub: a real-time community hub and tracker for a private BitTorrent site."""
