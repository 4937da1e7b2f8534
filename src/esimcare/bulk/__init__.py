"""Bulk work: cancelling a list of ICCIDs or numbers through the ordinary workflow."""
