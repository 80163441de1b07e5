"""Gaji's AI service: vector store, ingestion, retrieval, generation and SSE streams."""

__version__ = "0.1.0"
