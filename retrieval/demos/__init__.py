"""Demonstrations for learning autoencoders (not part of the search library): ``surface``, the lecture's
dimensionality-reduction demo."""
