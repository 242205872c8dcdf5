"""The system libopus, through ctypes: an encoder and a decoder for the audio engine's own use.

Playback passes packets through untouched; the one place the engine encodes is a track boundary, where a
few packets are rebuilt so one surah runs into the next without the silence the files carry there (see
`join.py`). That needs ~6 Opus calls, not a dependency: `discord.opus` is the Discord side's (the engine
never imports discord), and on PyPI `opuslib` has not been released since 2018 while its forks are young
single-maintainer projects. So this is the few functions of libopus's stable C API that the join uses.
PCM is 48 kHz, signed 16-bit, interleaved, as `bytes`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from typing import Any, Self

SAMPLE_RATE = 48_000
#: The largest packet libopus decodes to: 120 ms at 48 kHz.
MAX_FRAME_SAMPLES = 5760
#: Enough for any packet at any bitrate (libopus's own recommendation is 4000 bytes).
MAX_PACKET_BYTES = 4000

_APPLICATION_AUDIO = 2049
_SET_BITRATE = 4002
_SET_VBR = 4006
_SET_COMPLEXITY = 4010
_GET_LOOKAHEAD = 4027
_OK = 0


class OpusError(RuntimeError):
    """libopus refused a call; the message has its own words for why."""


class OpusUnavailable(OpusError):
    """libopus itself cannot be loaded."""


_lock = threading.Lock()
_lib: Any = None


def load_libopus(name: str | None = None) -> Any:
    """The shared library, loaded once (`name`: a path or soname; default: the system's libopus)."""
    global _lib
    with _lock:
        if _lib is not None and name is None:
            return _lib
        found = name or ctypes.util.find_library("opus")
        if found is None:
            raise OpusUnavailable(
                "libopus is not installed: run `sudo apt-get install libopus0` (or ./install.sh)"
            )
        try:
            lib = ctypes.CDLL(found)
        except OSError as exc:
            raise OpusUnavailable(f"libopus could not be loaded from {found}: {exc}") from exc
        _declare(lib)
        if name is None:
            _lib = lib
        return lib


def _declare(lib: Any) -> None:
    pointer, c_int, c_int32 = ctypes.c_void_p, ctypes.c_int, ctypes.c_int32
    samples = ctypes.POINTER(ctypes.c_int16)
    lib.opus_strerror.restype = ctypes.c_char_p
    lib.opus_strerror.argtypes = [c_int]
    lib.opus_encoder_create.restype = pointer
    lib.opus_encoder_create.argtypes = [c_int32, c_int, c_int, ctypes.POINTER(c_int)]
    lib.opus_encoder_destroy.argtypes = [pointer]
    lib.opus_encoder_ctl.restype = c_int  # variadic: no argtypes, so each call wraps its arguments
    lib.opus_encode.restype = c_int32
    lib.opus_encode.argtypes = [pointer, samples, c_int, ctypes.c_char_p, c_int32]
    lib.opus_decoder_create.restype = pointer
    lib.opus_decoder_create.argtypes = [c_int32, c_int, ctypes.POINTER(c_int)]
    lib.opus_decoder_destroy.argtypes = [pointer]
    lib.opus_decode.restype = c_int
    lib.opus_decode.argtypes = [pointer, ctypes.c_char_p, c_int32, samples, c_int, c_int]


def _check(lib: Any, code: int, doing: str) -> int:
    if code < _OK:
        raise OpusError(f"libopus could not {doing}: {lib.opus_strerror(code).decode()}")
    return code


class _State:
    """A libopus object: destroyed by `close()`, the end of a `with`, or garbage collection."""

    _lib: Any = None
    _state: int | None = None
    _destroy = ""  # the libopus function that frees it

    def close(self) -> None:
        state, self._state = self._state, None
        if state is not None:
            getattr(self._lib, self._destroy)(state)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_state", None) is not None:
            self.close()


class Encoder(_State):
    """An Opus encoder as imports make them: 48 kHz, 20 ms frames, application "audio", VBR."""

    _destroy = "opus_encoder_destroy"

    def __init__(self, channels: int = 2, bitrate: int = 64_000, complexity: int = 10) -> None:
        if channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, not {channels}")
        self._lib = lib = load_libopus()
        self.channels = channels
        error = ctypes.c_int(_OK)
        state = lib.opus_encoder_create(SAMPLE_RATE, channels, _APPLICATION_AUDIO, ctypes.byref(error))
        _check(lib, error.value, "create an encoder")
        self._state = state
        handle = ctypes.c_void_p(state)  # variadic: every argument's C type is given, the pointer's too
        for request, value in ((_SET_BITRATE, bitrate), (_SET_VBR, 1), (_SET_COMPLEXITY, complexity)):
            _check(lib, lib.opus_encoder_ctl(handle, ctypes.c_int(request), ctypes.c_int32(value)), "set up")
        lookahead = ctypes.c_int32(0)
        asked = lib.opus_encoder_ctl(handle, ctypes.c_int(_GET_LOOKAHEAD), ctypes.byref(lookahead))
        _check(lib, asked, "tell its lookahead")
        #: Samples by which the decoded output lags the input (312 at 48 kHz): an Ogg file's pre-skip.
        self.lookahead = lookahead.value
        self._packet = ctypes.create_string_buffer(MAX_PACKET_BYTES)

    def encode(self, pcm: bytes) -> bytes:
        """One packet from exactly one frame of PCM (a whole number of 2.5 ms, e.g. 960 samples)."""
        samples = len(pcm) // (2 * self.channels)
        if samples * 2 * self.channels != len(pcm):
            raise ValueError(f"{len(pcm)} bytes of PCM are not whole {self.channels}-channel samples")
        buffer = (ctypes.c_int16 * (samples * self.channels)).from_buffer_copy(pcm)
        size = self._lib.opus_encode(self._state, buffer, samples, self._packet, MAX_PACKET_BYTES)
        return self._packet.raw[: _check(self._lib, size, "encode")]


class Decoder(_State):
    """An Opus decoder at 48 kHz; it keeps state from packet to packet, as a listener's does."""

    _destroy = "opus_decoder_destroy"

    def __init__(self, channels: int = 2) -> None:
        if channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, not {channels}")
        self._lib = lib = load_libopus()
        self.channels = channels
        error = ctypes.c_int(_OK)
        state = lib.opus_decoder_create(SAMPLE_RATE, channels, ctypes.byref(error))
        _check(lib, error.value, "create a decoder")
        self._state = state
        self._pcm = (ctypes.c_int16 * (MAX_FRAME_SAMPLES * channels))()

    def decode(self, packet: bytes) -> bytes:
        """The packet's PCM (960 samples for a 20 ms packet)."""
        samples = self._lib.opus_decode(self._state, packet, len(packet), self._pcm, MAX_FRAME_SAMPLES, 0)
        _check(self._lib, samples, "decode a packet")
        return ctypes.string_at(self._pcm, samples * self.channels * 2)
