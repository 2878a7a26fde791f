"""The file object returned by ``Image.open()``."""

from __future__ import annotations

import io
from typing import Any


class ImageFile(io.RawIOBase):
    """A regular file of an ISO image, opened for reading: binary, seekable, read-only.

    An ``io.RawIOBase``: ``read``, ``readinto``, ``readall``, ``seek``, ``tell``, iteration
    over lines, and use as a context manager. It holds the image itself, so it stays
    readable after the ``Image`` is closed. Wrap it in ``io.BufferedReader`` or
    ``io.TextIOWrapper`` when needed. Not meant to be shared between threads.
    """

    mode = "rb"

    def __init__(self, native: Any, name: str) -> None:
        # (No super().__init__(): io.IOBase has nothing to initialise beyond its __new__,
        # and this runs once per opened file.)
        self._native = native
        #: The path of the file inside the image.
        self.name = name

    @property
    def size(self) -> int:
        """Size of the file's content in bytes."""
        return self._native.size

    def _check(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file.")

    def readable(self) -> bool:
        """True: the file can be read."""
        self._check()
        return True

    def seekable(self) -> bool:
        """True: the file supports ``seek`` and ``tell``."""
        self._check()
        return True

    def writable(self) -> bool:
        """False: images are read-only."""
        self._check()
        return False

    # read, readall, readinto, seek and tell leave the closed check to the native file,
    # which raises the same ValueError once closed (one Python call less per read).

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes from the current position (all the rest when ``size`` is
        negative or None); ``b""`` at the end."""
        return self._native.read(-1 if size is None else size)

    def readall(self) -> bytes:
        """All the bytes from the current position to the end."""
        return self._native.read(-1)

    def readinto(self, buffer: Any) -> int:
        """Reads into a writable buffer (bytearray, memoryview, ...); returns the count."""
        self._check()
        view = memoryview(buffer).cast("B")
        data = self._native.read(len(view))
        n = len(data)
        view[:n] = data
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Moves to ``offset`` relative to ``whence`` (``SEEK_SET``, ``SEEK_CUR`` or
        ``SEEK_END``); returns the new position."""
        return self._native.seek(offset, whence)

    def tell(self) -> int:
        """The current position."""
        return self._native.tell()

    def close(self) -> None:
        """Closes the file (releases its reference to the image)."""
        if not self.closed:
            self._native.close()
        super().close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<isolution.ImageFile {self.name!r} {state}>"
