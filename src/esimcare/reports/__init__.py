"""Report data (rows usable as CSV) and server-side SVG charts."""
