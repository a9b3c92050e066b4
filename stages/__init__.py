"""Thin DVC stage scripts: read params, call pipeline/, write outputs atomically."""
