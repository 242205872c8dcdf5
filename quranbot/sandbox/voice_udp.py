"""Discord's voice UDP: IP discovery and transport-encrypted RTP (the `*_rtpsize` AEAD modes).

In the rtpsize modes the RTP header (fixed part, CSRCs and the 4-byte extension preamble) is the
additional authenticated data; the 32-bit counter appended to the packet, zero-padded, is the nonce.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt
from nacl.exceptions import CryptoError

log = logging.getLogger(__name__)

XCHACHA = "aead_xchacha20_poly1305_rtpsize"
AES_GCM = "aead_aes256_gcm_rtpsize"
#: What the sandbox offers, in Discord's order of preference.
SUPPORTED_MODES = (AES_GCM, XCHACHA)

DISCOVERY_LENGTH = 74

#: Linux's SO_TIMESTAMPNS (asm-generic/socket.h; also the control message's type), which Python's socket
#: module does not name: the kernel's receive time of each datagram, as a struct timespec (wall clock).
_SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@qq")
_ANCILLARY_SPACE = socket.CMSG_SPACE(_TIMESPEC.size)
_MAX_DATAGRAM = 65_536


class PacketError(ValueError):
    """A datagram that is not a valid voice packet for its session."""


@dataclass(frozen=True)
class RtpPacket:
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes


def rtp_ssrc(datagram: bytes) -> int:
    if len(datagram) < 12 or datagram[0] >> 6 != 2:
        raise PacketError("not an RTP packet")
    return int(struct.unpack_from(">I", datagram, 8)[0])


def decrypt_rtp(datagram: bytes, mode: str, key: bytes) -> RtpPacket:
    """Authenticate and decrypt one voice packet; raises PacketError if it does not verify."""
    if len(datagram) < 12 + 16 + 4:
        raise PacketError("packet too short")
    first = datagram[0]
    csrc_count = first & 0x0F
    has_extension = bool(first & 0x10)
    header_length = 12 + 4 * csrc_count + (4 if has_extension else 0)
    aad = datagram[:header_length]
    nonce_counter = datagram[-4:]
    ciphertext = datagram[header_length:-4]
    try:
        if mode == XCHACHA:
            plain = crypto_aead_xchacha20poly1305_ietf_decrypt(
                ciphertext, aad, nonce_counter + bytes(20), key
            )
        elif mode == AES_GCM:
            plain = AESGCM(key).decrypt(nonce_counter + bytes(8), ciphertext, aad)
        else:
            raise PacketError(f"unsupported mode {mode}")
    except (CryptoError, InvalidTag, ValueError) as exc:
        if isinstance(exc, PacketError):
            raise
        raise PacketError("packet failed authentication") from exc
    if has_extension:
        extension_words = struct.unpack_from(">H", datagram, header_length - 2)[0]
        plain = plain[4 * extension_words :]
    sequence, timestamp, ssrc = struct.unpack_from(">HII", datagram, 2)
    return RtpPacket(sequence=sequence, timestamp=timestamp, ssrc=ssrc, payload=bytes(plain))


def discovery_response(request: bytes, address: tuple[str, int]) -> bytes:
    """The answer to an IP discovery request: type 2, length 70, SSRC, address, port."""
    ssrc = struct.unpack_from(">I", request, 4)[0]
    packet = bytearray(DISCOVERY_LENGTH)
    struct.pack_into(">HHI", packet, 0, 2, 70, ssrc)
    host = address[0].encode("ascii")
    packet[8 : 8 + len(host)] = host
    struct.pack_into(">H", packet, 72, address[1])
    return bytes(packet)


def is_discovery_request(datagram: bytes) -> bool:
    return len(datagram) == DISCOVERY_LENGTH and datagram[:4] == b"\x00\x01\x00\x46"


class VoiceUdpEndpoint:
    """The sandbox's UDP socket; audio goes to `on_audio(datagram, arrived)` with a perf_counter time.

    `arrived` is when the kernel received the datagram (SO_TIMESTAMPNS), not when this process got round
    to reading it: the sandbox shares the machine and its event loop with what it measures, and at a few
    hundred channels its own delays would otherwise be charged to the bot's cadence. Where the kernel
    gives no timestamp the time of reading stands in (`kernel_timestamps` says which)."""

    def __init__(self, on_audio: Callable[[bytes, float], None]) -> None:
        self._on_audio = on_audio
        self._socket: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.kernel_timestamps = False
        self.answering = True
        self.datagrams = 0
        self.ignored = 0

    async def start(self, host: str) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.bind((host, 0))
            if sys.platform == "linux":
                sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
                self.kernel_timestamps = True
        except OSError:
            sock.close()
            raise
        self._socket, self._loop = sock, asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._readable)

    def close(self) -> None:
        sock, self._socket = self._socket, None
        if sock is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(sock.fileno())
            sock.close()

    @property
    def running(self) -> bool:
        return self._socket is not None

    @property
    def port(self) -> int:
        assert self._socket is not None
        return int(self._socket.getsockname()[1])

    def sendto(self, data: bytes, address: tuple[str, int]) -> None:
        """Best effort, as UDP is: a full buffer or an unreachable client drops the datagram."""
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.sendto(data, address)

    def _readable(self) -> None:
        sock = self._socket
        if sock is None:
            return
        # One clock reading per wake-up converts every kernel timestamp read in it to perf_counter time.
        wall, perf = time.time(), time.perf_counter()
        while True:
            try:
                data, ancillary, _flags, address = sock.recvmsg(_MAX_DATAGRAM, _ANCILLARY_SPACE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # an ICMP error from an earlier send to a client that has gone: go on
                continue
            arrived = perf
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(value) >= _TIMESPEC.size:
                    seconds, nanoseconds = _TIMESPEC.unpack_from(value)
                    arrived = perf - max(0.0, wall - (seconds + nanoseconds / 1e9))
            self._received(data, address, arrived)

    def _received(self, data: bytes, address: tuple[str, int], arrived: float) -> None:
        self.datagrams += 1
        if not self.answering:
            self.ignored += 1
            return
        if is_discovery_request(data):
            self.sendto(discovery_response(data, address), address)
            return
        self._on_audio(data, arrived)
