"""``heed card``: a dataset card, the EU training-content summary and ``--check`` for heed
output folders. ``stats.collect`` computes every number; the renderers only format them."""
