"""Discord's voice UDP: IP discovery and transport-encrypted RTP (the `*_rtpsize` AEAD modes).

In the rtpsize modes the RTP header (fixed part, CSRCs and the 4-byte extension preamble) is the
additional authenticated data; the 32-bit counter appended to the packet, zero-padded, is the nonce.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

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


class VoiceUdpEndpoint(asyncio.DatagramProtocol):
    """The sandbox's UDP socket; audio goes to `on_audio(datagram, arrived)` with a perf_counter time."""

    def __init__(self, on_audio: Callable[[bytes, float], None]) -> None:
        self._on_audio = on_audio
        self.transport: asyncio.DatagramTransport | None = None
        self.answering = True
        self.datagrams = 0
        self.ignored = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        arrived = time.perf_counter()
        self.datagrams += 1
        if not self.answering:
            self.ignored += 1
            return
        if is_discovery_request(data):
            if self.transport is not None:
                self.transport.sendto(discovery_response(data, addr), addr)
            return
        self._on_audio(data, arrived)

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])
