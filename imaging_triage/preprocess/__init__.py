"""Preprocessing steps, one module each, and the pipeline that orders them."""
