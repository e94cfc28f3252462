"""xltui: terminal experiment manager for cross-lingual transfer studies."""
