"""Releases: export runs into the manifest (Hub repository folders, model cards), publish, the embedded sample."""
