"""Document retrieval with deep autoencoders.

The public API, imported on first use so that ``import retrieval`` stays
light (searching a saved index never imports TensorFlow)::

    from retrieval import TextIndex, read_corpus
    index = TextIndex.load("indexes/20newsgroups")
    hits = index.search(["nasa launched the space shuttle"], k=10)

Packages, by concern: ``model`` (Keras: blocks, builder, training, export),
``runtime`` (numpy encoder and TF-IDF for queries), ``text`` and ``images``
(the pipelines), ``evaluation`` (metrics and baselines), ``data`` (datasets),
``cli`` (the command line). ``indexing`` beside it holds FAISS and bundles.
"""

from indexing.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "TextIndex": "retrieval.text.index",
    "HitList": "retrieval.text.index",
    "Hit": "retrieval.code_index",
    "ImageIndex": "retrieval.images.index",
    "Corpus": "retrieval.text.corpus",
    "read_corpus": "retrieval.text.corpus",
    "BuildConfig": "retrieval.config",
    "ImageConfig": "retrieval.config",
    "RetrievalError": "retrieval.errors",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports("retrieval", globals(), _EXPORTS)
