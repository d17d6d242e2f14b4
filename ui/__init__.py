"""Streamlit glue: shared state, caching and figure builders used by several pages."""
