"""Document retrieval with deep autoencoders: featurizers, the autoencoder core,
training, the text pipeline, evaluation and the CLI. Uses ``indexing`` for search."""

__version__ = "0.1.0"
