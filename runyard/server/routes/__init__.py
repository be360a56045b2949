"""The native ``/api/v1`` routes: thin adapters that parse, call the store, and serialise."""
