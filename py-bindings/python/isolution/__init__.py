"""Read MetalK8s Solution archives (ISO 9660 images) as plain files: no mount, no root,
zero-copy over ``mmap``, every length and offset checked.

>>> import isolution
>>> with isolution.open("example-solution-1.0.2.iso") as image:      # doctest: +SKIP
...     image.listdir("images")
...     manifest = image.read("manifest.yaml")
...     s = image.solution
...     findings = s.validate()

``open(path)`` / ``Image.from_bytes(data)`` give an ``Image``; ``walk``, ``listdir``, ``stat``,
``exists``, ``read``, ``open`` and ``view`` take a path relative to the root and an optional
``namespace=`` (``"rr"``, ``"joliet"``, ``"iso1999"``, ``"primary"``); ``sha256_all`` hashes
every file in Rust (path -> hex digest) and ``views`` yields ``(path, memoryview)`` for every
file, neither copying stored bytes into Python; ``boot_catalog`` and
``read_boot`` give the El Torito boot catalog. ``image.solution`` reads the Solution
(``validate``, ``verify``, ``export_oci``, ``export_oci_archive``, ``export_docker_archive``,
``push``, ``render``, ``render_objects``, ``upgrade_plan``); ``load_solutions_config`` reads a
``solutions.yaml``; ``pack`` builds a Solution ISO from a source tree and images. Errors: ``IsolutionError`` and its subclasses ``FormatError``,
``LimitExceeded``, ``ValidationError``, ``SignatureError``, ``DeployError``, ``ExportError``
(and its subclass ``RegistryError``), ``PackError``; warnings: ``RenderWarning``; plus the built-in
``FileNotFoundError``, ``NotADirectoryError``, ``IsADirectoryError`` and ``ValueError``.
"""

from ._io import ImageFile
from ._native import (
    BootCatalog,
    BootEntry,
    ContainerImage,
    DeployError,
    Descriptor,
    Entry,
    ExportError,
    Finding,
    FormatError,
    Image,
    IsolutionError,
    LimitExceeded,
    PackError,
    PlatformManifest,
    RegistryError,
    RenderWarning,
    SignatureError,
    Solution,
    SolutionsConfig,
    ValidationError,
    __version__,
    load_solutions_config,
    open,
    pack,
)
from ._report import ValidationReport

__all__ = [
    "BootCatalog",
    "BootEntry",
    "ContainerImage",
    "DeployError",
    "Descriptor",
    "Entry",
    "ExportError",
    "Finding",
    "FormatError",
    "Image",
    "ImageFile",
    "IsolutionError",
    "LimitExceeded",
    "PackError",
    "PlatformManifest",
    "RegistryError",
    "RenderWarning",
    "SignatureError",
    "Solution",
    "SolutionsConfig",
    "ValidationError",
    "ValidationReport",
    "__version__",
    "load_solutions_config",
    "open",
    "pack",
]
