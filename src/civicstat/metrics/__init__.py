"""The measures engine: measure definitions compiled to Ibis, computed into observations."""
