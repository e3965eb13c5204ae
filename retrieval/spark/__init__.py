"""More than one machine: the build's encoding on Apache Spark, and indexes from Parquet codes.

``retrieval build CORPUS --out DIR --engine spark`` trains on the driver exactly
as the single-machine build does (the same seeded sample, the same model),
then Spark's executors featurise and encode the corpus a partition at a time
with the numpy runtime (no TensorFlow, Keras or scikit-learn there) and write
codes, ids, display fields and TF-IDF rows as Parquet; the FAISS index is
built from those shards into a normal bundle. ``retrieval index CODES_DIR``
does that last step alone, for codes made elsewhere.

Modules: ``session`` (starting Spark; the extra and Java checked first),
``executor`` (what runs on the executors), ``jobs`` (the Spark jobs, driven
from the driver), ``model`` (the model directory beside the codes),
``shards`` (Parquet shards read and checked with pyarrow, then indexed),
``build`` (the whole build). pyspark and pyarrow are imported inside
functions: the base install never needs them.
"""
