"""Data sets: the course's manifest, a cache outside git, downloads with checksums, loaders and generators.

One module per job:

- :mod:`~autograder.datasets.registry`: the manifest (course.yml ``dataset_manifest``, read from
  ``course.manifest_path``), the cache (``$AUTOGRADER_DATA``, else ``~/.cache/cnn-autograder``),
  :func:`require`, checksums, :func:`verify`, :func:`download` and :func:`fetch`;
- :mod:`~autograder.datasets.loaders`: IDX files, :func:`load_mnist`, :func:`load_fashion_mnist`,
  :func:`load_digits_28` (scikit-learn's digits in MNIST's layout, offline);
- :mod:`~autograder.datasets.images`: image folders (:func:`prepare_image_folder`,
  :func:`extract_image_archive`, :func:`load_image_folder`, :func:`load_images`);
- :mod:`~autograder.datasets.synthetic`: generated data (:func:`make_shapes_images`, the "fur" textures of
  04_transfer_learning as arrays, :func:`make_textures`, or image files, :func:`make_textures_images`,
  and :func:`write_practice_zip`);
- :mod:`~autograder.datasets.recipes`: :func:`recipe_data`, a training recipe's (seeded) train and
  held-out test arrays.

Every function that reads the manifest takes it explicitly (``manifest=course.manifest_path``, or a
manifest already read): the manifest belongs to the course, not to this package. This package
re-exports the public names for existing callers; code inside it imports from the specific module.
"""

from autograder.datasets.images import (
    Arrays,
    PrepareReport,
    extract_image_archive,
    image_files,
    is_valid_image,
    load_image_folder,
    load_images,
    prepare_image_folder,
)
from autograder.datasets.loaders import load_digits_28, load_fashion_mnist, load_mnist, read_idx
from autograder.datasets.recipes import recipe_data
from autograder.datasets.registry import (
    DataFile,
    Dataset,
    DatasetError,
    FileStatus,
    Manifest,
    ManifestSource,
    cache_dir,
    cache_path,
    checksum_problem,
    download,
    fetch,
    find_file,
    get,
    load_manifest,
    read_manifest,
    require,
    verify,
)
from autograder.datasets.synthetic import (
    SHAPE_CLASSES,
    TEXTURE_CLASSES,
    make_shapes_images,
    make_textures,
    make_textures_images,
    write_practice_zip,
)

__all__ = [
    "SHAPE_CLASSES",
    "TEXTURE_CLASSES",
    "Arrays",
    "DataFile",
    "Dataset",
    "DatasetError",
    "FileStatus",
    "Manifest",
    "ManifestSource",
    "PrepareReport",
    "cache_dir",
    "cache_path",
    "checksum_problem",
    "download",
    "extract_image_archive",
    "fetch",
    "find_file",
    "get",
    "image_files",
    "is_valid_image",
    "load_digits_28",
    "load_fashion_mnist",
    "load_image_folder",
    "load_images",
    "load_manifest",
    "load_mnist",
    "make_shapes_images",
    "make_textures",
    "make_textures_images",
    "prepare_image_folder",
    "read_idx",
    "read_manifest",
    "recipe_data",
    "require",
    "verify",
    "write_practice_zip",
]
